//! Duration literals such as `"90s"`, `"10m"` or `"1h30m"`, checked at compile time.

use std::time::Duration;

const UNITS: &str = "ms, s, m, h or d";

/// Parses a sequence of `<number><unit>` parts; the error says what is wrong in words.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!(
            "empty duration: write a number and a unit ({UNITS}), like \"90s\""
        ));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "invalid duration \"{text}\": expected a number at \"{rest}\"; write it like \"90s\" or \"1h30m\""
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration \"{text}\": the number is too large"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim_end();
        let nanos_per: u64 = match unit {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            "" => {
                return Err(format!(
                    "invalid duration \"{text}\": `{number}` has no unit; write \"{number}s\" (units: {UNITS})"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration \"{text}\": unknown unit `{other}`; use {UNITS}"
                ));
            }
        };
        let part = number
            .checked_mul(nanos_per)
            .map(Duration::from_nanos)
            .ok_or_else(|| format!("invalid duration \"{text}\": too long"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("invalid duration \"{text}\": too long"))?;
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        return Err(format!(
            "duration \"{text}\" is zero; a cache entry must live longer than that"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn accepts_units_and_compounds() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(172_800)));
    }

    #[test]
    fn rejects_with_reasons() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("30").unwrap_err().contains("has no unit"));
        assert!(
            parse("5 minutes")
                .unwrap_err()
                .contains("unknown unit `minutes`")
        );
        assert!(parse("m5").unwrap_err().contains("expected a number"));
        assert!(parse("0s").unwrap_err().contains("zero"));
        assert!(
            parse("99999999999999999999s")
                .unwrap_err()
                .contains("too large")
        );
    }
}
