-- 0020 (both builds): no JIT compilation for the dashboard, BI and analytics logins.
-- PostgreSQL compiles a query with LLVM once its estimated cost passes jit_above_cost.
-- The year-long dashboard and report queries pass it on a plant's history while reading
-- only tens of thousands of rollup rows, and the compilation then costs more than the
-- query: Grafana's "Energia por turno" over one year took 3.6 s, of which 3.2 s were
-- JIT (108 functions, inlined and optimised), and 0.46 s without it (make bench-history,
-- issue 17). The rollup refresh already runs with jit off (0017). These are role
-- defaults like those of 0012: cluster-wide, applied at login.
ALTER ROLE emusa_grafana SET jit = off;
ALTER ROLE emusa_bi SET jit = off;
ALTER ROLE emusa_analytics SET jit = off;
