-- Year × member: the contribution booked in the ledger against what the agreement requires
-- (at least +2.5 % a year, compounded, from the 2021 base), and whether a shortfall was
-- restored within three years. Amounts in SEK, shown positive (income is credit in the ledger).
with agreement as (
    select * from {{ ref('member_contribution_agreement') }}
),

booked as (
    select
        agreement.member,
        ledger.fiscal_year as year,
        -sum(ledger.amount) as contribution_booked
    from {{ ref('int_sie__transactions_current') }} as ledger
    inner join agreement on agreement.account = ledger.account
    group by all
),

compared as (
    select
        booked.year,
        agreement.member,
        agreement.member_name,
        booked.contribution_booked,
        cast(round(agreement.base_amount_sek
            * power(1 + agreement.min_annual_increase_pct / 100, booked.year - agreement.base_year), 2)
            as decimal(18, 2)) as contribution_required,
        agreement.restore_within_years
    from booked
    inner join agreement using (member)
    where booked.year >= agreement.base_year
),

with_difference as (
    select *, contribution_booked - contribution_required as difference
    from compared
),

restoration as (
    -- For each year short of the agreement: the first later year, within the window, by
    -- which the differences since the shortfall add up to zero or more.
    select
        short.member,
        short.year,
        min(later.year) filter (where later.year > short.year and later.running >= 0)
            as restored_in
    from with_difference as short
    inner join (
        select
            a.member, a.year as start_year, b.year,
            sum(b.difference) over (partition by a.member, a.year order by b.year) as running
        from with_difference as a
        inner join with_difference as b
            on b.member = a.member and b.year >= a.year
            and b.year <= a.year + a.restore_within_years
        where a.difference < 0
    ) as later on later.member = short.member and later.start_year = short.year
    where short.difference < 0
    group by all
)

select
    cast(d.year as integer) as year,
    d.member,
    d.member_name,
    cast(d.contribution_booked as decimal(18, 2)) as contribution_booked,
    d.contribution_required,
    cast(d.difference as decimal(18, 2)) as difference,
    cast(round(100 * d.difference / d.contribution_required, 2) as decimal(12, 2))
        as difference_pct,
    case
        when d.difference >= 0 then 'met'
        when r.restored_in is not null then 'restored in ' || r.restored_in
        when d.year + d.restore_within_years > (select max(year) from with_difference)
            then 'open: restore by ' || (d.year + d.restore_within_years)
        else 'not restored within ' || d.restore_within_years || ' years'
    end as restoration_status
from with_difference as d
left join restoration as r on r.member = d.member and r.year = d.year
