"""The one catalogue of problems the server reports.

Codes follow ODK Central's decimal scheme (HTTP status . detail) so that its clients recognise them.
Messages are Vietnamese first, then English; the writer for each protocol (JSON, OpenRosa) decides how
to show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProblemType:
    code: float
    vi: str
    en: str

    @property
    def status(self) -> int:
        return int(self.code)


CATALOGUE: dict[str, ProblemType] = {
    "invalid_input": ProblemType(400.1, "Dữ liệu không hợp lệ: {detail}", "Invalid input: {detail}"),
    "missing_parameter": ProblemType(400.2, "Thiếu tham số bắt buộc: {field}",
                                     "Required parameter {field} missing."),
    "openrosa_version": ProblemType(
        400.3, "Thiếu hoặc sai tiêu đề X-OpenRosa-Version (phải là 1.0).",
        "Expected X-OpenRosa-Version header 1.0."),
    "malformed_xml": ProblemType(400.4, "Tệp XML không đọc được: {detail}",
                                 "Could not parse the XML: {detail}"),
    "unsafe_xml": ProblemType(400.5, "Tệp XML chứa DTD hoặc thực thể, không được chấp nhận.",
                              "XML with a DTD or entities is not accepted."),
    "not_multipart": ProblemType(400.6,
                                 "Yêu cầu phải là multipart/form-data có phần xml_submission_file.",
                                 "Expected a multipart/form-data body with xml_submission_file."),
    "bad_attachment_name": ProblemType(400.7, "Tên tệp đính kèm không hợp lệ: {name}",
                                       "Invalid attachment file name: {name}"),
    "missing_instance_id": ProblemType(400.8, "Bản ghi thiếu meta/instanceID.",
                                       "The submission has no meta/instanceID."),
    "form_invalid": ProblemType(400.9, "Biểu mẫu không hợp lệ: {detail}", "The form is invalid: {detail}"),
    "bad_review_state": ProblemType(400.10, "Trạng thái duyệt không hợp lệ: {value}",
                                    "Invalid review state: {value}"),
    "review_input": ProblemType(400.11, "{vi}", "{en}"),
    "review_forbidden": ProblemType(403.2, "{vi}", "{en}"),
    "review_conflict": ProblemType(409.6, "{vi}", "{en}"),
    "auth_failed": ProblemType(401.2, "Sai tên đăng nhập hoặc mật khẩu.",
                               "Could not authenticate with the provided credentials."),
    "forbidden": ProblemType(403.1, "Bạn không có quyền thực hiện thao tác này.",
                             "The authenticated actor does not have rights to perform that action."),
    "not_found": ProblemType(404.1, "Không tìm thấy: {what}", "Could not find the resource: {what}"),
    "form_not_found": ProblemType(404.2, "Không tìm thấy biểu mẫu '{form_id}' trong dự án.",
                                  "No form '{form_id}' in this project."),
    "form_version_not_found": ProblemType(
        404.3, "Biểu mẫu '{form_id}' không có phiên bản '{version}'.",
        "Form '{form_id}' has no version '{version}'."),
    "deprecated_not_found": ProblemType(
        404.4, "Không tìm thấy bản ghi gốc '{deprecated_id}' để sửa.",
        "The submission '{deprecated_id}' being edited does not exist."),
    "form_closed": ProblemType(409.2, "Biểu mẫu '{form_id}' không còn nhận bản ghi.",
                               "The form '{form_id}' is not accepting submissions."),
    "xml_conflict": ProblemType(
        409.1, "Đã có bản ghi với mã này nhưng nội dung XML khác.",
        "A submission already exists with this ID, but with different XML."),
    "deleted_conflict": ProblemType(409.3, "Bản ghi với mã này đã bị xóa.",
                                    "A submission with this ID was deleted."),
    "stale_edit": ProblemType(
        409.4, "Bản ghi '{deprecated_id}' đã được sửa trước đó; hãy tải bản mới nhất.",
        "The submission '{deprecated_id}' has already been edited; start from the latest version."),
    "already_exists": ProblemType(409.5, "Đã tồn tại: {what}", "Already exists: {what}"),
    "login_locked": ProblemType(
        429.1, "Đăng nhập tạm bị khoá vì nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
        "Too many failed login attempts. Please try again in {minutes} minutes."),
    "too_large": ProblemType(413.1, "Dữ liệu gửi lên quá lớn (tối đa {limit} byte).",
                             "The request body is too large (limit {limit} bytes)."),
    "storage_full": ProblemType(
        507.1, "Máy chủ hết chỗ lưu tệp đính kèm; bản ghi chưa được nhận. Hãy gửi lại sau.",
        "The server has no space left for attachments; the submission was not accepted. Send it again later."),
    "unavailable": ProblemType(
        503.1, "Máy chủ tạm thời không truy cập được cơ sở dữ liệu; chưa có gì được lưu. Hãy gửi lại sau ít phút.",
        "The server cannot reach its database right now; nothing was saved. Please try again in a few minutes."),
    "unsupported_type": ProblemType(415.1, "Định dạng không được hỗ trợ: {detail}",
                                    "Unsupported content type: {detail}"),
    "minutes_too_large": ProblemType(413.2, "{vi}", "{en}"),
    "minutes_refused": ProblemType(415.2, "{vi}", "{en}"),
    "duplicate_decided": ProblemType(
        409.7, "Cặp hồ sơ nghi trùng này đã được quyết định trước đó ({decision_vi}). Hãy tải lại trang.",
        "This possible duplicate has already been decided ({decision_en}). Please reload the page."),
    "entity_invalid": ProblemType(400.21, "{vi}", "{en}"),
    "entity_version_conflict": ProblemType(
        409.15, "Thực thể đang ở phiên bản {current}; bản cập nhật dựa trên phiên bản {base}.",
        "The entity is at version {current}; the update was based on version {base}."),
    "entity_exists": ProblemType(409.16, "Đã có thực thể với mã {uuid}.", "An entity with id {uuid} already exists."),
    "odata_query": ProblemType(400.11, "Truy vấn OData không hợp lệ: {detail}", "Invalid OData query: {detail}"),
    "edit_mismatch": ProblemType(
        400.12, "Bản sửa phải có meta/deprecatedID là mã phiên bản hiện tại của bản ghi '{instance_id}'.",
        "An edit must carry meta/deprecatedID naming the current version of submission '{instance_id}'."),
    "unexpected_attachment": ProblemType(404.5, "Bản ghi không có tệp đính kèm tên '{name}'.",
                                         "The submission expects no attachment named '{name}'."),
}


class Problem(Exception):
    """A failure the caller can act on; carries a catalogue key and the values for its message."""

    def __init__(self, key: str, **details: Any) -> None:
        self.key = key
        self.type = CATALOGUE[key]
        self.details = details
        super().__init__(self.message("en"))

    @property
    def status(self) -> int:
        return self.type.status

    @property
    def code(self) -> float:
        return self.type.code

    def message(self, lang: str = "vi") -> str:
        template = self.type.vi if lang == "vi" else self.type.en
        return template.format_map(_Lenient(self.details))


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "?"
