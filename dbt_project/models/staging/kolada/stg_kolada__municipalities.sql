-- Kolada's municipalities (K) and regions (L) as loaded, with the county each belongs to.
select
    file_id,
    municipality_id,
    trim(regexp_replace(title, '\s+', ' ', 'g')) as name,
    type,
    -- A municipality id is the county's two-digit code and its own two (0188: county 01),
    -- and the county's region has id 00 + that code (0001 Region Stockholm); Riket has none.
    case
        when type = 'K' then '00' || left(municipality_id, 2)
        when municipality_id <> '0000' then municipality_id
    end as county_id
from {{ raw_source('kolada_municipalities') }}
