"""Exports for the provincial registry and the official summary reports.

Pure modules, no Flask and no database: the query layer hands over plain rows one at a time.

- ``writers``: CSV / GeoJSON byte chunks and XLSX (openpyxl write-only), streamed in constant memory,
  with spreadsheet formula injection neutralised.
- ``registry``: the registry export row model (households, members, GeoJSON features), its filter
  and the opaque cursor of incremental exports.
- ``reports``: summary reports modelled on Annex VII of Circular 07/2021, with the layout as data
  (``templates/*.json``), aggregated in one streaming pass, written to a formatted XLSX.
"""
