-- TPC-H Q17, small-quantity-order revenue. CONTAINER = 'MED BOX'; adapted: BRAND = 'Brand#14'
-- (validation value 'Brand#23': no generated part is a Brand#23 MED BOX).
select sum(l_extendedprice) / 7.0 as avg_yearly
from tpch.lineitem, tpch.part
where p_partkey = l_partkey
  and p_brand = 'Brand#14'
  and p_container = 'MED BOX'
  and l_quantity < (
    select 0.2 * avg(l_quantity) from tpch.lineitem where l_partkey = p_partkey)
