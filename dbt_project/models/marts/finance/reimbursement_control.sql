-- Month × provider × service: what the ledger paid the provider (group 46, köp av
-- huvudverksamhet) against what is due under the reimbursement terms (volume × the rate in
-- force on the first of the month), flagged above the tolerance; the same month a year
-- earlier; and the 2024 transition support (account 4560) apart. Amounts in SEK as in the
-- ledger: a payment (cost) is positive.
{% set transition_support_account = '4560' %}
with rates as (
    select * from {{ ref('reimbursement_rates') }}
),

services as (
    select distinct service from rates
),

ledger as (
    select
        ledger.month,
        counterparties.provider_org_nr,
        activities.service,
        ledger.account_group,
        ledger.account,
        ledger.amount
    from {{ ref('int_sie__operating_monthly') }} as ledger
    inner join {{ ref('activities') }} as activities using (activity_code)
    inner join services using (service)
    inner join {{ ref('counterparty_providers') }} as counterparties
        on counterparties.counterparty_object = ledger.counterparty_object
    where ledger.account_group = '46' or ledger.account = '{{ transition_support_account }}'
),

paid as (
    select
        month,
        provider_org_nr,
        service,
        sum(amount) filter (where account_group = '46') as paid,
        sum(amount) filter (where account = '{{ transition_support_account }}')
            as transition_support
    from ledger
    group by all
),

-- The months the loaded ledgers cover: up to the last month with bookings in each year's
-- current ledger. Later volumes are not compared yet (their invoices are not booked).
ledger_months as (
    select fiscal_year, max(month) as last_month
    from {{ ref('int_sie__operating_monthly') }}
    group by all
),

volumes as (
    -- Hemtjänst: performed hours of the providers' monthly reports (current versions).
    select
        report_month as month,
        provider_org_nr,
        'hemtjanst' as service,
        cast(null as integer) as visits,
        sum(performed_hours) as performed_hours
    from {{ ref('int_monthly_reports_current') }}
    where area_code = 'HTJ'
    group by all
    union all
    -- Basal hemsjukvård and hemrehabilitering: the reimbursement register.
    select month, provider_org_nr, service, visits, performed_hours
    from {{ ref('int_health_care_volumes_current') }}
),

due as (
    select
        volumes.*,
        rates.basis,
        rates.rate_sek,
        round(rates.rate_sek * case rates.basis
            when 'per_visit' then volumes.visits
            else volumes.performed_hours
        end, 2) as due
    from volumes
    left join rates
        on rates.service = volumes.service
        and volumes.month between rates.valid_from and coalesce(rates.valid_to, date '9999-12-31')
),

compared as (
    select
        coalesce(paid.month, due.month) as month,
        coalesce(paid.provider_org_nr, due.provider_org_nr) as provider_org_nr,
        coalesce(paid.service, due.service) as service,
        due.basis,
        due.rate_sek,
        due.visits,
        due.performed_hours,
        due.due,
        due.service is not null as has_volume,
        coalesce(coalesce(paid.month, due.month) <= ledger_months.last_month, false)
            as in_ledger,
        coalesce(paid.paid, 0) as paid,
        coalesce(paid.transition_support, 0) as transition_support
    from paid
    full outer join due
        on due.month = paid.month
        and due.provider_org_nr = paid.provider_org_nr
        and due.service = paid.service
    left join ledger_months
        on ledger_months.fiscal_year = year(coalesce(paid.month, due.month))
),

with_tolerance as (
    select
        *,
        paid - due as difference,
        greatest(
            {{ var('reimbursement_tolerance_pct') }} / 100 * abs(due),
            {{ var('reimbursement_tolerance_sek') }}
        ) as tolerance
    from compared
),

classified as (
    select
        *,
        case
            when not has_volume and paid <> 0 then 'paid_without_volume'
            when not has_volume then 'ok'  -- transition support only
            when not in_ledger then 'not_in_ledger'
            when due is null then 'no_rate'
            when difference > tolerance then 'overpaid'
            when difference < -tolerance then 'underpaid'
            else 'ok'
        end as status
    from with_tolerance
)

select
    classified.month,
    cast(year(classified.month) as integer) as year,
    classified.provider_org_nr,
    providers.provider_name,
    classified.service,
    classified.basis,
    cast(classified.rate_sek as decimal(12, 2)) as rate_sek,
    cast(classified.visits as integer) as visits,
    cast(classified.performed_hours as decimal(12, 2)) as performed_hours,
    cast(classified.paid as decimal(18, 2)) as paid,
    cast(classified.due as decimal(18, 2)) as due,
    cast(classified.difference as decimal(18, 2)) as difference,
    cast(round(100 * classified.difference / nullif(classified.due, 0), 2) as decimal(18, 2))
        as difference_pct,
    classified.status,
    classified.status not in ('ok', 'not_in_ledger') as flagged,
    cast(previous.paid as decimal(18, 2)) as paid_same_month_previous_year,
    cast(classified.paid - previous.paid as decimal(18, 2)) as paid_change_from_previous_year,
    cast(classified.transition_support as decimal(18, 2)) as transition_support
from classified
left join paid as previous
    on previous.provider_org_nr = classified.provider_org_nr
    and previous.service = classified.service
    and previous.month = classified.month - interval 1 year
left join {{ ref('providers') }} as providers on providers.org_nr = classified.provider_org_nr
