//! Times on the wire: RFC 3339 strings in UTC with milliseconds
//! (`2026-12-07T10:30:00.123Z`). Stores keep [`Timestamp`]s, milliseconds since the epoch;
//! records convert when they are serialized, and read either form back.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

use crate::model::Timestamp;

/// `at` as RFC 3339 in UTC with milliseconds.
pub fn rfc3339(at: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp_millis(at)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An RFC 3339 time with any offset, as a [`Timestamp`].
pub fn parse(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// What a time field may hold when read back: RFC 3339, or milliseconds as written
/// before times went out as text (cached records).
#[derive(Deserialize)]
#[serde(untagged)]
enum Wire {
    Millis(Timestamp),
    Text(String),
}

impl Wire {
    fn timestamp<E: serde::de::Error>(self) -> Result<Timestamp, E> {
        match self {
            Wire::Millis(ms) => Ok(ms),
            Wire::Text(text) => {
                parse(&text).ok_or_else(|| E::custom(format!("{text:?} is not an RFC 3339 time")))
            }
        }
    }
}

/// `#[serde(with = "crate::time::serde_rfc3339")]` on a [`Timestamp`] field.
pub mod serde_rfc3339 {
    use super::{Deserialize, Deserializer, Serializer, Timestamp, Wire, rfc3339};

    pub fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        Wire::deserialize(d)?.timestamp()
    }

    /// The same for an `Option<Timestamp>` field.
    pub mod option {
        use super::{Deserialize, Deserializer, Serializer, Timestamp, Wire, rfc3339};

        #[allow(clippy::ref_option)] // serde hands `with` modules a reference to the field
        pub fn serialize<S: Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => s.serialize_some(&rfc3339(*at)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Option::<Wire>::deserialize(d)?
                .map(Wire::timestamp)
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        #[serde(with = "serde_rfc3339")]
        at: Timestamp,
        #[serde(with = "serde_rfc3339::option")]
        done: Option<Timestamp>,
    }

    #[test]
    fn times_go_out_as_rfc3339_and_come_back_in_either_form() {
        let record = Record {
            at: 1_700_000_000_123,
            done: None,
        };
        let text = serde_json::to_value(&record).unwrap();
        assert_eq!(
            text,
            json!({"at": "2023-11-14T22:13:20.123Z", "done": null})
        );
        assert_eq!(serde_json::from_value::<Record>(text).unwrap(), record);
        let old: Record =
            serde_json::from_value(json!({"at": 1_700_000_000_123_i64, "done": 5})).unwrap();
        assert_eq!((old.at, old.done), (1_700_000_000_123, Some(5)));
        let offset: Record =
            serde_json::from_value(json!({"at": "2023-11-14T23:13:20.123+01:00", "done": null}))
                .unwrap();
        assert_eq!(offset.at, record.at);
        assert!(
            serde_json::from_value::<Record>(json!({"at": "yesterday", "done": null})).is_err()
        );
    }
}
