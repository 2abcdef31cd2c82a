select
    file_id,
    kpi_id,
    trim(regexp_replace(title, '\s+', ' ', 'g')) as kpi_title,
    description as kpi_description,
    is_divided_by_gender,
    has_ou_data,
    operating_area,
    publ_period,
    try_cast(publication_date as date) as publication_date
from {{ raw_source('kolada_kpis') }}
