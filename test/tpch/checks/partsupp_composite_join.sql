select l_orderkey, l_linenumber, ps_supplycost, ps_availqty from tpch.lineitem left join tpch.partsupp on ps_partkey = l_partkey and ps_suppkey = l_suppkey
