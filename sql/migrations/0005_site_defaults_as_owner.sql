-- 0005 a site registered by the ingestor (emusa_ingestor, on first sight of its topic)
-- gets its default tariff windows: the trigger function runs as its owner, since the
-- ingestor role may not write the tariff calendar itself.
ALTER FUNCTION emusa_site_default_windows() SECURITY DEFINER SET search_path = pg_catalog, public;
REVOKE ALL ON FUNCTION emusa_site_default_windows() FROM PUBLIC;
