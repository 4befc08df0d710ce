# English pages keep the portal's unambiguous ISO dates (2026-11-22, 2026-11-22 09:00 JST).
DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
YEAR_MONTH_FORMAT = "Y-m"
