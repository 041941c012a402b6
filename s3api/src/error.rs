//! S3 errors: what a source or the protocol layer can fail with, and how
//! each maps to S3's error code and HTTP status.

use std::fmt::Display;
use std::io;

use axum::http::StatusCode;
use ringside_api::range::Unsatisfiable;

use crate::xml::Xml;

/// An S3 error. The `Display` text is the `<Message>` clients see, except
/// for [`S3Error::Internal`], whose detail goes to the log only.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("The specified bucket does not exist.")]
    NoSuchBucket,
    #[error("The requested range is not satisfiable: the object has {size} bytes.")]
    InvalidRange { size: u64 },
    /// A bad parameter, key or header value, with what was expected.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("Access Denied: {0}")]
    AccessDenied(String),
    /// The method as sent (`PUT`, `DELETE`, ...).
    #[error("The {0} method is not allowed: this S3 API is read-only.")]
    MethodNotAllowed(String),
    /// An S3 feature (a subresource such as `?acl`) this API does not offer.
    #[error("{0} is not implemented by this read-only S3 API.")]
    NotImplemented(String),
    #[error("At least one of the pre-conditions you specified did not hold.")]
    PreconditionFailed,
    #[error("The requested partnumber is not satisfiable.")]
    InvalidPartNumber,
    #[error("Your key is too long: keys have at most 1024 bytes.")]
    KeyTooLong,
    /// Anything else. The detail is logged, never sent: it may name paths
    /// or hosts of the UFS.
    #[error("internal error: {0}")]
    Internal(String),
}

impl S3Error {
    pub fn internal(detail: impl Display) -> Self {
        S3Error::Internal(detail.to_string())
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        S3Error::InvalidArgument(message.into())
    }

    /// S3's error code, the `<Code>` of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            S3Error::NoSuchKey => "NoSuchKey",
            S3Error::NoSuchBucket => "NoSuchBucket",
            S3Error::InvalidRange { .. } => "InvalidRange",
            S3Error::InvalidArgument(_) => "InvalidArgument",
            S3Error::AccessDenied(_) => "AccessDenied",
            S3Error::MethodNotAllowed(_) => "MethodNotAllowed",
            S3Error::NotImplemented(_) => "NotImplemented",
            S3Error::PreconditionFailed => "PreconditionFailed",
            S3Error::InvalidPartNumber => "InvalidPartNumber",
            S3Error::KeyTooLong => "KeyTooLongError",
            S3Error::Internal(_) => "InternalError",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            S3Error::NoSuchKey | S3Error::NoSuchBucket => StatusCode::NOT_FOUND,
            S3Error::InvalidRange { .. } | S3Error::InvalidPartNumber => {
                StatusCode::RANGE_NOT_SATISFIABLE
            }
            S3Error::InvalidArgument(_) | S3Error::KeyTooLong => StatusCode::BAD_REQUEST,
            S3Error::AccessDenied(_) => StatusCode::FORBIDDEN,
            S3Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            S3Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            S3Error::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            S3Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `<Message>` clients see.
    pub fn client_message(&self) -> String {
        match self {
            S3Error::Internal(_) => "We encountered an internal error. Please try again.".into(),
            other => other.to_string(),
        }
    }

    /// The S3 `<Error>` document.
    pub(crate) fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut xml = Xml::document();
        xml.open("Error");
        xml.element("Code", self.code());
        xml.element("Message", &self.client_message());
        xml.element("Resource", resource);
        xml.element("RequestId", request_id);
        xml.close("Error");
        xml.finish()
    }
}

impl From<Unsatisfiable> for S3Error {
    fn from(err: Unsatisfiable) -> Self {
        S3Error::InvalidRange { size: err.size }
    }
}

/// For sources over files: a missing file is a missing key, a forbidden
/// one is access denied, anything else is the server's fault.
impl From<io::Error> for S3Error {
    fn from(err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::NotFound
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory => S3Error::NoSuchKey,
            io::ErrorKind::PermissionDenied => S3Error::AccessDenied("Access Denied".into()),
            _ => S3Error::internal(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let cases: [(S3Error, &str, u16); 11] = [
            (S3Error::NoSuchKey, "NoSuchKey", 404),
            (S3Error::NoSuchBucket, "NoSuchBucket", 404),
            (S3Error::InvalidRange { size: 3 }, "InvalidRange", 416),
            (S3Error::invalid_argument("x"), "InvalidArgument", 400),
            (S3Error::AccessDenied("x".into()), "AccessDenied", 403),
            (
                S3Error::MethodNotAllowed("PUT".into()),
                "MethodNotAllowed",
                405,
            ),
            (
                S3Error::NotImplemented("?acl".into()),
                "NotImplemented",
                501,
            ),
            (S3Error::PreconditionFailed, "PreconditionFailed", 412),
            (S3Error::InvalidPartNumber, "InvalidPartNumber", 416),
            (S3Error::KeyTooLong, "KeyTooLongError", 400),
            (S3Error::internal("disk on fire"), "InternalError", 500),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status().as_u16(), status, "{code}");
        }
    }

    #[test]
    fn internal_details_stay_in_the_log() {
        let err = S3Error::internal("/srv/ufs/secret: I/O error");
        assert!(!err.client_message().contains("secret"));
        assert!(err.to_string().contains("secret"));
        assert!(!err.to_xml("/b/k", "RID").contains("secret"));
    }

    #[test]
    fn io_errors_map_by_kind() {
        let e = |kind| S3Error::from(io::Error::from(kind)).code();
        assert_eq!(e(io::ErrorKind::NotFound), "NoSuchKey");
        assert_eq!(e(io::ErrorKind::PermissionDenied), "AccessDenied");
        assert_eq!(e(io::ErrorKind::TimedOut), "InternalError");
        assert_eq!(
            S3Error::from(Unsatisfiable { size: 7 }).to_string(),
            "The requested range is not satisfiable: the object has 7 bytes."
        );
    }

    #[test]
    fn error_document() {
        let xml = S3Error::NoSuchKey.to_xml("/bucket/a&b <c>", "REQ1");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message>\
             <Resource>/bucket/a&amp;b &lt;c&gt;</Resource><RequestId>REQ1</RequestId></Error>"
        );
    }
}
