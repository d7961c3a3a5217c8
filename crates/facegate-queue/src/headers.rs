//! Kafka message headers as text: `traceparent` and `request_id` travel in them.

use rdkafka::message::{Header, Headers, Message, OwnedHeaders};

/// The W3C trace context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// The request id header, set on every result.
pub const REQUEST_ID_HEADER: &str = "request_id";

/// The headers of a message, in order, as UTF-8 text (values that are not UTF-8 are read
/// lossily; headers without a value are skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageHeaders {
    entries: Vec<(String, String)>,
}

impl MessageHeaders {
    pub fn new() -> Self {
        Self::default()
    }

    /// These headers with `name` set to `value` (replacing an earlier value).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.entries.retain(|(existing, _)| *existing != name);
        self.entries.push((name, value.into()));
        self
    }

    /// These headers with a `traceparent` when one is given.
    #[must_use]
    pub fn with_traceparent(self, traceparent: Option<&str>) -> Self {
        match traceparent {
            Some(traceparent) => self.with(TRACEPARENT_HEADER, traceparent),
            None => self,
        }
    }

    /// The value of the first header called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(existing, _)| existing == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn traceparent(&self) -> Option<&str> {
        self.get(TRACEPARENT_HEADER)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The headers of a message read from Kafka.
    pub fn from_message<M: Message>(message: &M) -> Self {
        Self::from_kafka(message.headers())
    }

    pub(crate) fn to_kafka(&self) -> OwnedHeaders {
        self.entries.iter().fold(
            OwnedHeaders::new_with_capacity(self.entries.len()),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                })
            },
        )
    }

    pub(crate) fn from_kafka<H: Headers>(headers: Option<&H>) -> Self {
        let entries = headers
            .map(|headers| {
                headers
                    .iter()
                    .filter_map(|header| {
                        let value = header.value?;
                        Some((
                            header.key.to_owned(),
                            String::from_utf8_lossy(value).into_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_survive_the_kafka_form() {
        let headers = MessageHeaders::new()
            .with_traceparent(Some(
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ))
            .with(REQUEST_ID_HEADER, "r1")
            .with(REQUEST_ID_HEADER, "r2")
            .with_traceparent(None);
        assert_eq!(
            headers.traceparent(),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
        assert_eq!(headers.get(REQUEST_ID_HEADER), Some("r2"));
        assert_eq!(headers.iter().count(), 2);
        let kafka = headers.to_kafka();
        assert_eq!(MessageHeaders::from_kafka(Some(&kafka)), headers);
        assert!(MessageHeaders::from_kafka::<OwnedHeaders>(None).is_empty());
    }
}
