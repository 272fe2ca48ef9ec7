-- One row per day, 2020 to 2035: MetricFlow joins metrics to it to fill gaps in time series
-- and to offset windows. A view over range(): nothing stored, and cheap to re-create per run.

select cast(day as date) as date_day
from range(date '2020-01-01', date '2036-01-01', interval 1 day) as days(day)
