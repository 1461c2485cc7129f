-- TPC-H Q19, discounted revenue. QUANTITY1 = 1, QUANTITY2 = 10, QUANTITY3 = 20,
-- BRAND1 = 'Brand#12'. Adapted, for the 100 generated parts to meet the second and third
-- branches: BRAND2 = 'Brand#54' (and 'MED JAR' for 'MED PKG' in its containers), BRAND3 =
-- 'Brand#52' (validation values Brand#23, Brand#34). The first branch matches no line of
-- this data (no small-container part of size 1-5 ships 1-11 items by AIR in person).
-- l_shipmode in ('AIR', 'AIR REG') is the query's text: 'AIR REG' is no ship mode (dbgen
-- writes 'REG AIR'), so only AIR lines count, as in every TPC-H run.
select sum(l_extendedprice * (1 - l_discount)) as revenue
from tpch.lineitem, tpch.part
where (p_partkey = l_partkey
    and p_brand = 'Brand#12'
    and p_container in ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG')
    and l_quantity >= 1 and l_quantity <= 1 + 10
    and p_size between 1 and 5
    and l_shipmode in ('AIR', 'AIR REG')
    and l_shipinstruct = 'DELIVER IN PERSON')
  or (p_partkey = l_partkey
    and p_brand = 'Brand#54'
    and p_container in ('MED BAG', 'MED BOX', 'MED JAR', 'MED PACK')
    and l_quantity >= 10 and l_quantity <= 10 + 10
    and p_size between 1 and 10
    and l_shipmode in ('AIR', 'AIR REG')
    and l_shipinstruct = 'DELIVER IN PERSON')
  or (p_partkey = l_partkey
    and p_brand = 'Brand#52'
    and p_container in ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG')
    and l_quantity >= 20 and l_quantity <= 20 + 10
    and p_size between 1 and 15
    and l_shipmode in ('AIR', 'AIR REG')
    and l_shipinstruct = 'DELIVER IN PERSON')
