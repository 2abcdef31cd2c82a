select file_id, account, name as account_name, account_type, sru as sru_code
from {{ raw_source('sie_accounts') }}
