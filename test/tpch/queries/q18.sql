-- TPC-H Q18, large volume customer. Adapted: QUANTITY = 250 (validation value 300, of the
-- range 312..315: no generated order has more than 276 items).
select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity) as sum_qty
from tpch.customer, tpch.orders, tpch.lineitem
where o_orderkey in (
    select l_orderkey from tpch.lineitem group by l_orderkey having sum(l_quantity) > 250)
  and c_custkey = o_custkey
  and o_orderkey = l_orderkey
group by c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
order by o_totalprice desc, o_orderdate
limit 100
