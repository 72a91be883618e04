//! Kea's statistic timestamps: `2024-05-01 10:11:19.498739` (UTC here).

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats `at` as Kea formats sample times.
pub(crate) fn kea_timestamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (year, month, day) = civil_date(seconds / 86_400);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since.subsec_micros()
    )
}

/// Year, month and day of `days` since 1970-01-01 (Howard Hinnant's
/// civil-from-days algorithm).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::kea_timestamp;

    #[test]
    fn formats_like_kea() {
        let at = UNIX_EPOCH + Duration::from_micros(1_564_481_479_498_739);
        assert_eq!(kea_timestamp(at), "2019-07-30 10:11:19.498739");
        assert_eq!(kea_timestamp(UNIX_EPOCH), "1970-01-01 00:00:00.000000");
    }
}
