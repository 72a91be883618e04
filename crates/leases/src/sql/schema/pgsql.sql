-- leasehold's PostgreSQL schema: the lease and host part of ISC Kea 2.2's
-- DHCP database at schema version 13.0, so that `kea-admin db-version`
-- reports 13.0 and kea-dhcp4 2.2 serves leases and reservations from it.
-- The configuration-backend tables (dhcp4_subnet, dhcp4_audit, ...) are
-- not created. Runs in one transaction.

CREATE TABLE schema_version (
    version INT NOT NULL PRIMARY KEY,
    minor INT
);

CREATE TABLE lease_state (
    state BIGINT NOT NULL PRIMARY KEY,
    name VARCHAR(64) NOT NULL
);
INSERT INTO lease_state VALUES (0, 'default'), (1, 'declined'), (2, 'expired-reclaimed');

CREATE TABLE lease6_types (
    lease_type SMALLINT NOT NULL PRIMARY KEY,
    name VARCHAR(5)
);
INSERT INTO lease6_types VALUES (0, 'IA_NA'), (1, 'IA_TA'), (2, 'IA_PD');

CREATE TABLE lease_hwaddr_source (
    hwaddr_source INT NOT NULL PRIMARY KEY,
    name VARCHAR(40) DEFAULT NULL
);
INSERT INTO lease_hwaddr_source VALUES
    (0, 'HWADDR_SOURCE_UNKNOWN'), (1, 'HWADDR_SOURCE_RAW'),
    (2, 'HWADDR_SOURCE_IPV6_LINK_LOCAL'), (4, 'HWADDR_SOURCE_DUID'),
    (8, 'HWADDR_SOURCE_CLIENT_ADDR_RELAY_OPTION'), (16, 'HWADDR_SOURCE_REMOTE_ID'),
    (32, 'HWADDR_SOURCE_SUBSCRIBER_ID'), (64, 'HWADDR_SOURCE_DOCSIS_CMTS'),
    (128, 'HWADDR_SOURCE_DOCSIS_MODEM');

-- Leases: the address (as an unsigned 32-bit number) is the key, so two
-- servers sharing the database can never both hold one address.
CREATE TABLE lease4 (
    address BIGINT NOT NULL PRIMARY KEY,
    hwaddr BYTEA,
    client_id BYTEA,
    valid_lifetime BIGINT,
    expire TIMESTAMP WITH TIME ZONE,
    subnet_id BIGINT,
    fqdn_fwd BOOLEAN,
    fqdn_rev BOOLEAN,
    hostname VARCHAR(255),
    state BIGINT DEFAULT 0,
    user_context TEXT,
    CONSTRAINT fk_lease4_state FOREIGN KEY (state) REFERENCES lease_state (state)
);
CREATE INDEX lease4_by_hwaddr_subnet_id ON lease4 (hwaddr, subnet_id);
CREATE INDEX lease4_by_client_id_subnet_id ON lease4 (client_id, subnet_id);
CREATE INDEX lease4_by_subnet_id ON lease4 (subnet_id);
CREATE INDEX lease4_by_state_expire ON lease4 (state, expire);
CREATE INDEX lease4_by_hostname ON lease4 (lower(hostname)) WHERE hostname IS NOT NULL;

CREATE TABLE lease6 (
    address VARCHAR(39) NOT NULL PRIMARY KEY,
    duid BYTEA,
    valid_lifetime BIGINT,
    expire TIMESTAMP WITH TIME ZONE,
    subnet_id BIGINT,
    pref_lifetime BIGINT,
    lease_type SMALLINT,
    iaid INT,
    prefix_len SMALLINT,
    fqdn_fwd BOOLEAN,
    fqdn_rev BOOLEAN,
    hostname VARCHAR(255),
    state BIGINT DEFAULT 0,
    hwaddr BYTEA,
    hwtype SMALLINT,
    hwaddr_source SMALLINT,
    user_context TEXT,
    CONSTRAINT fk_lease6_state FOREIGN KEY (state) REFERENCES lease_state (state),
    CONSTRAINT fk_lease6_type FOREIGN KEY (lease_type) REFERENCES lease6_types (lease_type)
);
CREATE INDEX lease6_by_duid_iaid_subnet_id ON lease6 (duid, iaid, subnet_id);
CREATE INDEX lease6_by_subnet_id_lease_type ON lease6 (subnet_id, lease_type);
CREATE INDEX lease6_by_state_expire ON lease6 (state, expire);
CREATE INDEX lease6_by_hostname ON lease6 (lower(hostname)) WHERE hostname IS NOT NULL;

-- Lease counts per subnet and state, kept by the triggers below.
CREATE TABLE lease4_stat (
    subnet_id BIGINT NOT NULL,
    state BIGINT NOT NULL,
    leases BIGINT,
    PRIMARY KEY (subnet_id, state)
);
CREATE TABLE lease6_stat (
    subnet_id BIGINT NOT NULL,
    lease_type SMALLINT NOT NULL,
    state BIGINT NOT NULL,
    leases BIGINT,
    PRIMARY KEY (subnet_id, lease_type, state)
);
CREATE TABLE lease4_stat_by_client_class (
    client_class VARCHAR(128) NOT NULL PRIMARY KEY,
    leases BIGINT NOT NULL
);
CREATE TABLE lease6_stat_by_client_class (
    client_class VARCHAR(128) NOT NULL,
    lease_type SMALLINT NOT NULL,
    leases BIGINT NOT NULL,
    PRIMARY KEY (client_class, lease_type),
    CONSTRAINT fk_lease6_stat_by_client_class_lease_type
        FOREIGN KEY (lease_type) REFERENCES lease6_types (lease_type)
);

-- Only assigned (0) and declined (1) leases are counted.
CREATE FUNCTION lease4_stat_add(the_subnet BIGINT, the_state BIGINT, delta BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $body$
BEGIN
    IF the_state NOT IN (0, 1) THEN
        RETURN;
    END IF;
    INSERT INTO lease4_stat AS s VALUES (the_subnet, the_state, GREATEST(delta, 0))
        ON CONFLICT (subnet_id, state)
        DO UPDATE SET leases = GREATEST(s.leases + delta, 0);
END;
$body$;

CREATE FUNCTION func_lease4_ains() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM lease4_stat_add(NEW.subnet_id, NEW.state, 1);
    RETURN NULL;
END;
$body$;

CREATE FUNCTION func_lease4_aupd() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF OLD.subnet_id IS DISTINCT FROM NEW.subnet_id OR OLD.state IS DISTINCT FROM NEW.state THEN
        PERFORM lease4_stat_add(OLD.subnet_id, OLD.state, -1);
        PERFORM lease4_stat_add(NEW.subnet_id, NEW.state, 1);
    END IF;
    RETURN NULL;
END;
$body$;

CREATE FUNCTION func_lease4_adel() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM lease4_stat_add(OLD.subnet_id, OLD.state, -1);
    RETURN NULL;
END;
$body$;

CREATE TRIGGER lease4_ains AFTER INSERT ON lease4 FOR EACH ROW EXECUTE FUNCTION func_lease4_ains();
CREATE TRIGGER lease4_aupd AFTER UPDATE ON lease4 FOR EACH ROW EXECUTE FUNCTION func_lease4_aupd();
CREATE TRIGGER lease4_adel AFTER DELETE ON lease4 FOR EACH ROW EXECUTE FUNCTION func_lease4_adel();

CREATE FUNCTION lease6_stat_add(the_subnet BIGINT, the_type SMALLINT, the_state BIGINT,
                                delta BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $body$
BEGIN
    IF the_state NOT IN (0, 1) THEN
        RETURN;
    END IF;
    INSERT INTO lease6_stat AS s VALUES (the_subnet, the_type, the_state, GREATEST(delta, 0))
        ON CONFLICT (subnet_id, lease_type, state)
        DO UPDATE SET leases = GREATEST(s.leases + delta, 0);
END;
$body$;

CREATE FUNCTION func_lease6_ains() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM lease6_stat_add(NEW.subnet_id, NEW.lease_type, NEW.state, 1);
    RETURN NULL;
END;
$body$;

CREATE FUNCTION func_lease6_aupd() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF OLD.subnet_id IS DISTINCT FROM NEW.subnet_id OR OLD.state IS DISTINCT FROM NEW.state
       OR OLD.lease_type IS DISTINCT FROM NEW.lease_type THEN
        PERFORM lease6_stat_add(OLD.subnet_id, OLD.lease_type, OLD.state, -1);
        PERFORM lease6_stat_add(NEW.subnet_id, NEW.lease_type, NEW.state, 1);
    END IF;
    RETURN NULL;
END;
$body$;

CREATE FUNCTION func_lease6_adel() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM lease6_stat_add(OLD.subnet_id, OLD.lease_type, OLD.state, -1);
    RETURN NULL;
END;
$body$;

CREATE TRIGGER lease6_ains AFTER INSERT ON lease6 FOR EACH ROW EXECUTE FUNCTION func_lease6_ains();
CREATE TRIGGER lease6_aupd AFTER UPDATE ON lease6 FOR EACH ROW EXECUTE FUNCTION func_lease6_aupd();
CREATE TRIGGER lease6_adel AFTER DELETE ON lease6 FOR EACH ROW EXECUTE FUNCTION func_lease6_adel();

-- Kea's lease manager asks these; leasehold keeps no per-class lease
-- limits, so no limit is ever reported as exceeded.
CREATE FUNCTION isJsonSupported() RETURNS BOOLEAN LANGUAGE sql AS $body$ SELECT true $body$;
CREATE FUNCTION checkLease4Limits(user_context TEXT) RETURNS TEXT LANGUAGE sql
    AS $body$ SELECT ''::text $body$;
CREATE FUNCTION checkLease6Limits(user_context TEXT) RETURNS TEXT LANGUAGE sql
    AS $body$ SELECT ''::text $body$;

-- Host reservations.
CREATE TABLE host_identifier_type (
    type SMALLINT NOT NULL PRIMARY KEY,
    name VARCHAR(32) DEFAULT NULL
);
INSERT INTO host_identifier_type VALUES
    (0, 'hw-address'), (1, 'duid'), (2, 'circuit-id'), (3, 'client-id'), (4, 'flex-id');

CREATE TABLE dhcp_option_scope (
    scope_id SMALLINT NOT NULL PRIMARY KEY,
    scope_name VARCHAR(32) DEFAULT NULL
);
INSERT INTO dhcp_option_scope VALUES
    (0, 'global'), (1, 'subnet'), (2, 'client-class'), (3, 'host'),
    (4, 'shared-network'), (5, 'pool'), (6, 'pd-pool');

CREATE TABLE hosts (
    host_id SERIAL PRIMARY KEY,
    dhcp_identifier BYTEA NOT NULL,
    dhcp_identifier_type SMALLINT NOT NULL,
    dhcp4_subnet_id BIGINT,
    dhcp6_subnet_id BIGINT,
    ipv4_address BIGINT,
    hostname VARCHAR(255) DEFAULT NULL,
    dhcp4_client_classes VARCHAR(255) DEFAULT NULL,
    dhcp6_client_classes VARCHAR(255) DEFAULT NULL,
    dhcp4_next_server BIGINT,
    dhcp4_server_hostname VARCHAR(64) DEFAULT NULL,
    dhcp4_boot_file_name VARCHAR(128) DEFAULT NULL,
    user_context TEXT,
    auth_key VARCHAR(32) DEFAULT NULL,
    CONSTRAINT fk_host_identifier_type FOREIGN KEY (dhcp_identifier_type)
        REFERENCES host_identifier_type (type) ON DELETE CASCADE
);
CREATE INDEX fk_host_identifier_type ON hosts (dhcp_identifier_type);
CREATE INDEX key_dhcp_identifier ON hosts (dhcp_identifier, dhcp_identifier_type);
CREATE UNIQUE INDEX key_dhcp4_identifier_subnet_id
    ON hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id)
    WHERE dhcp4_subnet_id IS NOT NULL;
CREATE UNIQUE INDEX key_dhcp6_identifier_subnet_id
    ON hosts (dhcp_identifier, dhcp_identifier_type, dhcp6_subnet_id)
    WHERE dhcp6_subnet_id IS NOT NULL;
CREATE INDEX key_dhcp4_ipv4_address_subnet_id ON hosts (ipv4_address, dhcp4_subnet_id);
CREATE INDEX hosts_by_hostname ON hosts (lower(hostname)) WHERE hostname IS NOT NULL;

CREATE TABLE ipv6_reservations (
    reservation_id SERIAL PRIMARY KEY,
    address VARCHAR(39) NOT NULL,
    prefix_len SMALLINT NOT NULL DEFAULT 128,
    type SMALLINT NOT NULL DEFAULT 0,
    dhcp6_iaid INT,
    host_id INT NOT NULL,
    CONSTRAINT fk_ipv6_reservations_host FOREIGN KEY (host_id)
        REFERENCES hosts (host_id) ON DELETE CASCADE
);
CREATE INDEX fk_ipv6_reservations_host_idx ON ipv6_reservations (host_id);
CREATE INDEX key_dhcp6_address_prefix_len ON ipv6_reservations (address, prefix_len);

CREATE TABLE dhcp4_options (
    option_id SERIAL PRIMARY KEY,
    code SMALLINT NOT NULL,
    value BYTEA,
    formatted_value TEXT,
    space VARCHAR(128) DEFAULT NULL,
    persistent BOOLEAN NOT NULL DEFAULT false,
    dhcp_client_class VARCHAR(128) DEFAULT NULL,
    dhcp4_subnet_id BIGINT,
    host_id INT,
    scope_id SMALLINT NOT NULL,
    user_context TEXT,
    shared_network_name VARCHAR(128) DEFAULT NULL,
    pool_id BIGINT,
    modification_ts TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT fk_options_host1 FOREIGN KEY (host_id) REFERENCES hosts (host_id) ON DELETE CASCADE,
    CONSTRAINT fk_dhcp4_option_scode FOREIGN KEY (scope_id)
        REFERENCES dhcp_option_scope (scope_id) ON DELETE CASCADE
);
CREATE INDEX fk_dhcp4_options_host1_idx ON dhcp4_options (host_id);
CREATE INDEX fk_dhcp4_options_scope_idx ON dhcp4_options (scope_id);
CREATE INDEX fk_dhcp4_options_subnet ON dhcp4_options (dhcp4_subnet_id);

CREATE TABLE dhcp6_options (
    option_id SERIAL PRIMARY KEY,
    code INT NOT NULL,
    value BYTEA,
    formatted_value TEXT,
    space VARCHAR(128) DEFAULT NULL,
    persistent BOOLEAN NOT NULL DEFAULT false,
    dhcp_client_class VARCHAR(128) DEFAULT NULL,
    dhcp6_subnet_id BIGINT,
    host_id INT,
    scope_id SMALLINT NOT NULL,
    user_context TEXT,
    shared_network_name VARCHAR(128) DEFAULT NULL,
    pool_id BIGINT,
    pd_pool_id BIGINT,
    modification_ts TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT fk_options_host10 FOREIGN KEY (host_id) REFERENCES hosts (host_id) ON DELETE CASCADE,
    CONSTRAINT fk_dhcp6_option_scode FOREIGN KEY (scope_id)
        REFERENCES dhcp_option_scope (scope_id) ON DELETE CASCADE
);
CREATE INDEX fk_dhcp6_options_host1_idx ON dhcp6_options (host_id);
CREATE INDEX fk_dhcp6_options_scope_idx ON dhcp6_options (scope_id);
CREATE INDEX fk_dhcp6_options_subnet ON dhcp6_options (dhcp6_subnet_id);

CREATE TABLE logs (
    timestamp TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    address VARCHAR(43),
    log TEXT NOT NULL
);
CREATE INDEX timestamp_id ON logs (timestamp);
CREATE INDEX address_id ON logs (address);

INSERT INTO schema_version VALUES (13, 0);
