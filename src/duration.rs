//! Durations on the command line: `100ms`, `30s`, `5m`, `24h`, `7d`, `1w`, `1h30m`,
//! or a bare number of seconds.

use std::time::Duration;

pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration; write e.g. 5m, 30s or 100ms".into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{s}`: expected a number before `{unit}`"))?;
        let secs = match unit {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            "d" => n * 86_400.0,
            "w" => n * 604_800.0,
            _ => {
                return Err(format!(
                    "`{s}`: unknown unit `{unit}`; use ms, s, m, h, d or w"
                ));
            }
        };
        total += Duration::from_secs_f64(secs);
        rest = tail;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_combine() {
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse("1w"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse("45"), Ok(Duration::from_secs(45)));
        assert!(parse("5x").unwrap_err().contains("unknown unit"));
        assert!(parse("").is_err());
        assert!(parse("h").is_err());
    }
}
