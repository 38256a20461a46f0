-- boards_tenant 0.1.0 -> 0.2.0. OPEN: every change to the SQL surface made while 0.2.0 is the
-- next release goes here, in the order the changes land (README, "Upgrading"). The upgrade
-- test compares a database upgraded through this script with a fresh 0.2.0 install.
\echo Use "ALTER EXTENSION boards_tenant UPDATE" to load this file. \quit
