-- Provider × contract area × unit × month, from the current version of each monthly report,
-- with performed time recomputed from the home-care visit logs where they exist.
with reports as (
    select * from {{ ref('int_monthly_reports_current') }}
),

visits as (
    select * from {{ ref('int_visits_monthly') }}
),

providers as (
    select * from {{ ref('providers') }}
),

areas as (
    select * from {{ ref('contract_areas') }}
)

select
    reports.report_month,
    cast(year(reports.report_month) as integer) as year,
    reports.provider_org_nr,
    providers.provider_name,
    areas.agreement_form,
    reports.area_code,
    areas.area_name,
    areas.service_family,
    reports.unit_id,
    reports.unit_name,
    reports.users,
    reports.granted_hours,
    reports.performed_hours,
    cast(round(100 * reports.performed_hours / nullif(reports.granted_hours, 0), 1)
        as decimal(5, 1)) as performed_share_pct,
    reports.users_with_care_plan,
    cast(round(100 * reports.users_with_care_plan / nullif(reports.users, 0), 1)
        as decimal(5, 1)) as care_plan_share_pct,
    reports.staff_continuity,
    reports.incidents_falls,
    reports.incidents_medication,
    reports.incidents_other,
    reports.incidents_falls + reports.incidents_medication + reports.incidents_other
        as incidents_total,
    reports.unexecuted_decisions,
    cast(visits.visits as integer) as visits,
    cast(visits.users as integer) as visit_users,
    cast(round(visits.performed_hours, 2) as decimal(12, 2)) as visit_performed_hours,
    cast(round(visits.staff_continuity, 2) as decimal(6, 2)) as visit_staff_continuity,
    cast(round(reports.performed_hours - visits.performed_hours, 2) as decimal(12, 2))
        as performed_hours_difference,
    cast(round(100 * (reports.performed_hours - visits.performed_hours)
        / nullif(visits.performed_hours, 0), 1) as decimal(12, 1))
        as performed_hours_difference_pct,
    -- The row's figures are about its reported users and its visit log's users.
    {{ is_small_cell(['reports.users', 'visits.users']) }} as is_small_cell,
    reports.report_version,
    reports.file_id as source_file_id
from reports
left join providers on providers.org_nr = reports.provider_org_nr
left join areas on areas.area_code = reports.area_code
left join visits
    on visits.provider_org_nr = reports.provider_org_nr
    and visits.unit_id = reports.unit_id
    and visits.visit_month = reports.report_month
    and reports.area_code = 'HTJ'
