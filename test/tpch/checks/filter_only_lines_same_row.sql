select o_orderkey from tpch.orders where exists (select * from tpch.lineitem where l_orderkey = o_orderkey and l_shipmode = 'MAIL' and l_commitdate < l_receiptdate)
