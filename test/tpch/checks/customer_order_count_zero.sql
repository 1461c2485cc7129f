select c_custkey, count(o_orderkey) from tpch.customer left join tpch.orders on o_custkey = c_custkey group by c_custkey
