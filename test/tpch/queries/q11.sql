-- TPC-H Q11, important stock identification. NATION = 'GERMANY'; FRACTION = 0.0001 / SF,
-- and this data is about SF 0.001 with 32 suppliers: FRACTION = 0.05 here. ps_partkey is
-- added to the ORDER BY (a total order).
select ps_partkey, sum(ps_supplycost * ps_availqty) as value
from tpch.partsupp, tpch.supplier, tpch.nation
where ps_suppkey = s_suppkey
  and s_nationkey = n_nationkey
  and n_name = 'GERMANY'
group by ps_partkey
having sum(ps_supplycost * ps_availqty) > (
  select sum(ps_supplycost * ps_availqty) * 0.05
  from tpch.partsupp, tpch.supplier, tpch.nation
  where ps_suppkey = s_suppkey
    and s_nationkey = n_nationkey
    and n_name = 'GERMANY')
order by value desc, ps_partkey
