WITH
  -- production
  production AS (
    SELECT
      MAKEDATE(YEAR(start_date), 1) AS start_date_year,
      DATE_ADD(MAKEDATE(YEAR(start_date), 1), INTERVAL (QUARTER(start_date) - 1) QUARTER) AS start_date_quarter,
      budget_usd AS total_production_budget_value
    FROM studio.production
    WHERE status NOT IN ('cancelled')
  )
SELECT
  production.start_date_year AS start_year,
  production.start_date_quarter AS start_quarter,
  count(*) AS production_count,
  sum(production.total_production_budget_value) AS total_production_budget
FROM production
GROUP BY production.start_date_year, production.start_date_quarter
