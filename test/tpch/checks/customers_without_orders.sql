select c_custkey from tpch.customer where not exists (select * from tpch.orders where o_custkey = c_custkey)
