//! The time a record made now carries: the wall clock to the millisecond,
//! as every producer here dates its records (the CLI, the issuer, the
//! gate), so one rule decides it.

use causeway_records::Time;

/// The clock cannot date a record.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClockError {
    /// Before 1970.
    #[error("the clock is before 1970; set it before signing records")]
    BeforeEpoch,
    /// Beyond what a record's time can hold.
    #[error("the clock is out of range: {0}")]
    OutOfRange(String),
}

/// `now` to the millisecond, as records are dated.
///
/// # Errors
/// A clock before 1970 or out of range.
pub fn record_time(now: jiff::Timestamp) -> Result<Time, ClockError> {
    let millis = u32::try_from(now.subsec_millisecond()).map_err(|_| ClockError::BeforeEpoch)?;
    Time::new(now.as_second(), millis * 1_000_000)
        .map_err(|e| ClockError::OutOfRange(e.to_string()))
}

/// The current time, as a record made now is dated.
///
/// # Errors
/// See [`record_time`].
pub fn record_time_now() -> Result<Time, ClockError> {
    record_time(jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_dated_to_the_millisecond() {
        let t: jiff::Timestamp = "2026-12-03T10:00:00.123456789Z".parse().unwrap();
        let time = record_time(t).unwrap();
        assert_eq!(time.seconds(), t.as_second());
        assert_eq!(time.nanos(), 123_000_000);
        let before: jiff::Timestamp = "1969-12-31T23:59:59.5Z".parse().unwrap();
        assert!(matches!(record_time(before), Err(ClockError::BeforeEpoch)));
    }
}
