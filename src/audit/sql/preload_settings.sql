-- The preload settings as this server has them, for library_not_preloaded's detail.
SELECT pg_catalog.current_setting('shared_preload_libraries'),
       pg_catalog.current_setting('session_preload_libraries')
