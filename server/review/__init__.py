"""The household review: the state machine from submission to export, the village meeting rule, and
the diff an edited submission is reviewed with. Pure modules: no Flask, no database."""
