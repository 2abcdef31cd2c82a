select
    file_id,
    sie_type,
    format as declared_format,
    encoding,
    program,
    program_version,
    generated_on,
    company_name,
    org_nr as company_org_nr,
    currency,
    ksumma_present,
    ksumma_valid
from {{ raw_source('sie_files') }}
