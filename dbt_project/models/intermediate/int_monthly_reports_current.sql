-- The current version of each monthly report: for each provider, area and month the file
-- with the highest report version (then the latest loaded). A corrected resubmission thus
-- replaces the earlier one; every version stays in raw.provider_reports with its file_id.
with report_files as (
    select distinct provider_org_nr, area_code, report_month, report_version, file_id
    from {{ ref('stg_providers__monthly_reports') }}
),

current_files as (
    select file_id
    from report_files
    qualify row_number() over (
        partition by provider_org_nr, area_code, report_month
        order by report_version desc, file_id desc
    ) = 1
)

select reports.*
from {{ ref('stg_providers__monthly_reports') }} as reports
inner join current_files using (file_id)
