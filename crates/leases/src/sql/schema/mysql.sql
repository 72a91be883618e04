-- leasehold's MySQL/MariaDB schema: the lease and host part of ISC Kea
-- 2.2's DHCP database at schema version 14.0, so that `kea-admin
-- db-version` reports 14.0 and kea-dhcp4 2.2 serves leases and
-- reservations from it. The configuration-backend tables (dhcp4_subnet,
-- dhcp4_audit, ...) are not created. Sent as one multi-statement query;
-- routine bodies need no DELIMITER because the server parses them.

CREATE TABLE schema_version (
    version INT NOT NULL PRIMARY KEY,
    minor INT
) ENGINE = InnoDB;

CREATE TABLE lease_state (
    state INT UNSIGNED NOT NULL PRIMARY KEY,
    name VARCHAR(64) NOT NULL
) ENGINE = InnoDB;
INSERT INTO lease_state VALUES (0, 'default'), (1, 'declined'), (2, 'expired-reclaimed');

CREATE TABLE lease6_types (
    lease_type TINYINT NOT NULL PRIMARY KEY,
    name VARCHAR(5)
) ENGINE = InnoDB;
INSERT INTO lease6_types VALUES (0, 'IA_NA'), (1, 'IA_TA'), (2, 'IA_PD');

CREATE TABLE lease_hwaddr_source (
    hwaddr_source INT UNSIGNED NOT NULL PRIMARY KEY,
    name VARCHAR(40) DEFAULT NULL
) ENGINE = InnoDB;
INSERT INTO lease_hwaddr_source VALUES
    (0, 'HWADDR_SOURCE_UNKNOWN'), (1, 'HWADDR_SOURCE_RAW'),
    (2, 'HWADDR_SOURCE_IPV6_LINK_LOCAL'), (4, 'HWADDR_SOURCE_DUID'),
    (8, 'HWADDR_SOURCE_CLIENT_ADDR_RELAY_OPTION'), (16, 'HWADDR_SOURCE_REMOTE_ID'),
    (32, 'HWADDR_SOURCE_SUBSCRIBER_ID'), (64, 'HWADDR_SOURCE_DOCSIS_CMTS'),
    (128, 'HWADDR_SOURCE_DOCSIS_MODEM');

-- Leases: the address is the key, so two servers sharing the database can
-- never both hold one address.
CREATE TABLE lease4 (
    address INT UNSIGNED NOT NULL PRIMARY KEY,
    hwaddr VARBINARY(20) DEFAULT NULL,
    client_id VARBINARY(128) DEFAULT NULL,
    valid_lifetime INT UNSIGNED DEFAULT NULL,
    expire TIMESTAMP NULL DEFAULT NULL,
    subnet_id INT UNSIGNED DEFAULT NULL,
    fqdn_fwd TINYINT(1) DEFAULT NULL,
    fqdn_rev TINYINT(1) DEFAULT NULL,
    hostname VARCHAR(255) DEFAULT NULL,
    state INT UNSIGNED DEFAULT 0,
    user_context TEXT DEFAULT NULL,
    KEY lease4_by_hwaddr_subnet_id (hwaddr, subnet_id),
    KEY lease4_by_client_id_subnet_id (client_id, subnet_id),
    KEY lease4_by_subnet_id (subnet_id),
    KEY lease4_by_hostname (hostname),
    KEY lease4_by_expire_state (expire, state),
    KEY fk_lease4_state (state),
    CONSTRAINT fk_lease4_state FOREIGN KEY (state) REFERENCES lease_state (state)
) ENGINE = InnoDB;

CREATE TABLE lease6 (
    address VARCHAR(39) NOT NULL PRIMARY KEY,
    duid VARBINARY(128) DEFAULT NULL,
    valid_lifetime INT UNSIGNED DEFAULT NULL,
    expire TIMESTAMP NULL DEFAULT NULL,
    subnet_id INT UNSIGNED DEFAULT NULL,
    pref_lifetime INT UNSIGNED DEFAULT NULL,
    lease_type TINYINT DEFAULT NULL,
    iaid INT UNSIGNED DEFAULT NULL,
    prefix_len TINYINT UNSIGNED DEFAULT NULL,
    fqdn_fwd TINYINT(1) DEFAULT NULL,
    fqdn_rev TINYINT(1) DEFAULT NULL,
    hostname VARCHAR(255) DEFAULT NULL,
    hwaddr VARBINARY(20) DEFAULT NULL,
    hwtype SMALLINT UNSIGNED DEFAULT NULL,
    hwaddr_source INT UNSIGNED DEFAULT NULL,
    state INT UNSIGNED DEFAULT 0,
    user_context TEXT DEFAULT NULL,
    KEY lease6_by_subnet_id_lease_type (subnet_id, lease_type),
    KEY lease6_by_duid_iaid_subnet_id (duid, iaid, subnet_id),
    KEY lease6_by_hostname (hostname),
    KEY lease6_by_expire_state (expire, state),
    CONSTRAINT fk_lease6_hwaddr_source FOREIGN KEY (hwaddr_source)
        REFERENCES lease_hwaddr_source (hwaddr_source),
    CONSTRAINT fk_lease6_state FOREIGN KEY (state) REFERENCES lease_state (state),
    CONSTRAINT fk_lease6_type FOREIGN KEY (lease_type) REFERENCES lease6_types (lease_type)
) ENGINE = InnoDB;

-- Lease counts per subnet and state, kept by the triggers below.
CREATE TABLE lease4_stat (
    subnet_id INT UNSIGNED NOT NULL,
    state INT UNSIGNED NOT NULL,
    leases BIGINT,
    PRIMARY KEY (subnet_id, state)
) ENGINE = InnoDB;
CREATE TABLE lease6_stat (
    subnet_id INT UNSIGNED NOT NULL,
    lease_type INT UNSIGNED NOT NULL,
    state INT UNSIGNED NOT NULL,
    leases BIGINT,
    PRIMARY KEY (subnet_id, lease_type, state)
) ENGINE = InnoDB;
CREATE TABLE lease4_stat_by_client_class (
    client_class VARCHAR(128) NOT NULL PRIMARY KEY,
    leases BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB;
CREATE TABLE lease6_stat_by_client_class (
    client_class VARCHAR(128) NOT NULL,
    lease_type TINYINT NOT NULL,
    leases BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (client_class, lease_type),
    CONSTRAINT fk_lease6_stat_by_client_class_lease_type FOREIGN KEY (lease_type)
        REFERENCES lease6_types (lease_type)
) ENGINE = InnoDB;

-- Only assigned (0) and declined (1) leases are counted.
CREATE PROCEDURE lease4_stat_add(IN the_subnet INT UNSIGNED, IN the_state INT UNSIGNED,
                                 IN delta INT)
BEGIN
    IF the_state IN (0, 1) THEN
        INSERT INTO lease4_stat VALUES (the_subnet, the_state, GREATEST(delta, 0))
            ON DUPLICATE KEY UPDATE leases = GREATEST(leases + delta, 0);
    END IF;
END;

CREATE TRIGGER lease4_AINS AFTER INSERT ON lease4 FOR EACH ROW
    CALL lease4_stat_add(NEW.subnet_id, NEW.state, 1);

CREATE TRIGGER lease4_AUPD AFTER UPDATE ON lease4 FOR EACH ROW
BEGIN
    IF NOT (OLD.subnet_id <=> NEW.subnet_id) OR NOT (OLD.state <=> NEW.state) THEN
        CALL lease4_stat_add(OLD.subnet_id, OLD.state, -1);
        CALL lease4_stat_add(NEW.subnet_id, NEW.state, 1);
    END IF;
END;

CREATE TRIGGER lease4_ADEL AFTER DELETE ON lease4 FOR EACH ROW
    CALL lease4_stat_add(OLD.subnet_id, OLD.state, -1);

CREATE PROCEDURE lease6_stat_add(IN the_subnet INT UNSIGNED, IN the_type INT UNSIGNED,
                                 IN the_state INT UNSIGNED, IN delta INT)
BEGIN
    IF the_state IN (0, 1) THEN
        INSERT INTO lease6_stat VALUES (the_subnet, the_type, the_state, GREATEST(delta, 0))
            ON DUPLICATE KEY UPDATE leases = GREATEST(leases + delta, 0);
    END IF;
END;

CREATE TRIGGER lease6_AINS AFTER INSERT ON lease6 FOR EACH ROW
    CALL lease6_stat_add(NEW.subnet_id, NEW.lease_type, NEW.state, 1);

CREATE TRIGGER lease6_AUPD AFTER UPDATE ON lease6 FOR EACH ROW
BEGIN
    IF NOT (OLD.subnet_id <=> NEW.subnet_id) OR NOT (OLD.state <=> NEW.state)
       OR NOT (OLD.lease_type <=> NEW.lease_type) THEN
        CALL lease6_stat_add(OLD.subnet_id, OLD.lease_type, OLD.state, -1);
        CALL lease6_stat_add(NEW.subnet_id, NEW.lease_type, NEW.state, 1);
    END IF;
END;

CREATE TRIGGER lease6_ADEL AFTER DELETE ON lease6 FOR EACH ROW
    CALL lease6_stat_add(OLD.subnet_id, OLD.lease_type, OLD.state, -1);

-- Kea's lease manager asks these; leasehold keeps no per-class lease
-- limits, so no limit is ever reported as exceeded.
CREATE FUNCTION isJsonSupported() RETURNS BOOL DETERMINISTIC NO SQL RETURN TRUE;
CREATE FUNCTION checkLease4Limits(user_context TEXT) RETURNS TEXT DETERMINISTIC NO SQL
    RETURN '';
CREATE FUNCTION checkLease6Limits(user_context TEXT) RETURNS TEXT DETERMINISTIC NO SQL
    RETURN '';

-- Host reservations.
CREATE TABLE host_identifier_type (
    type TINYINT NOT NULL PRIMARY KEY,
    name VARCHAR(32) DEFAULT NULL
) ENGINE = InnoDB;
INSERT INTO host_identifier_type VALUES
    (0, 'hw-address'), (1, 'duid'), (2, 'circuit-id'), (3, 'client-id'), (4, 'flex-id');

CREATE TABLE dhcp_option_scope (
    scope_id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    scope_name VARCHAR(32) DEFAULT NULL
) ENGINE = InnoDB;
INSERT INTO dhcp_option_scope VALUES
    (0, 'global'), (1, 'subnet'), (2, 'client-class'), (3, 'host'),
    (4, 'shared-network'), (5, 'pool'), (6, 'pd-pool');

CREATE TABLE hosts (
    host_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    dhcp_identifier VARBINARY(128) NOT NULL,
    dhcp_identifier_type TINYINT NOT NULL,
    dhcp4_subnet_id INT UNSIGNED DEFAULT NULL,
    dhcp6_subnet_id INT UNSIGNED DEFAULT NULL,
    ipv4_address INT UNSIGNED DEFAULT NULL,
    hostname VARCHAR(255) DEFAULT NULL,
    dhcp4_client_classes VARCHAR(255) DEFAULT NULL,
    dhcp6_client_classes VARCHAR(255) DEFAULT NULL,
    dhcp4_next_server INT UNSIGNED DEFAULT NULL,
    dhcp4_server_hostname VARCHAR(64) DEFAULT NULL,
    dhcp4_boot_file_name VARCHAR(128) DEFAULT NULL,
    user_context TEXT DEFAULT NULL,
    auth_key VARCHAR(32) DEFAULT NULL,
    UNIQUE KEY key_dhcp4_identifier_subnet_id
        (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id),
    UNIQUE KEY key_dhcp6_identifier_subnet_id
        (dhcp_identifier, dhcp_identifier_type, dhcp6_subnet_id),
    KEY fk_host_identifier_type (dhcp_identifier_type),
    KEY hosts_by_hostname (hostname),
    KEY key_dhcp4_ipv4_address_subnet_id_identifier (ipv4_address, dhcp4_subnet_id),
    CONSTRAINT fk_host_identifier_type FOREIGN KEY (dhcp_identifier_type)
        REFERENCES host_identifier_type (type)
) ENGINE = InnoDB;

CREATE TABLE ipv6_reservations (
    reservation_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    address VARCHAR(39) NOT NULL,
    prefix_len TINYINT UNSIGNED NOT NULL DEFAULT 128,
    type TINYINT UNSIGNED NOT NULL DEFAULT 0,
    dhcp6_iaid INT UNSIGNED DEFAULT NULL,
    host_id INT UNSIGNED NOT NULL,
    KEY fk_ipv6_reservations_host_idx (host_id),
    KEY key_dhcp6_address_prefix_len (address, prefix_len),
    CONSTRAINT fk_ipv6_reservations_Host FOREIGN KEY (host_id) REFERENCES hosts (host_id)
        ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE = InnoDB;

CREATE TABLE dhcp4_options (
    option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code TINYINT UNSIGNED NOT NULL,
    value BLOB DEFAULT NULL,
    formatted_value TEXT DEFAULT NULL,
    space VARCHAR(128) DEFAULT NULL,
    persistent TINYINT(1) NOT NULL DEFAULT 0,
    dhcp_client_class VARCHAR(128) DEFAULT NULL,
    dhcp4_subnet_id INT UNSIGNED DEFAULT NULL,
    host_id INT UNSIGNED DEFAULT NULL,
    scope_id TINYINT UNSIGNED NOT NULL,
    user_context TEXT DEFAULT NULL,
    shared_network_name VARCHAR(128) DEFAULT NULL,
    pool_id BIGINT UNSIGNED DEFAULT NULL,
    modification_ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    KEY fk_options_host1_idx (host_id),
    KEY fk_dhcp4_option_scope (scope_id),
    KEY fk_dhcp4_options_subnet (dhcp4_subnet_id),
    CONSTRAINT fk_dhcp4_option_scope FOREIGN KEY (scope_id)
        REFERENCES dhcp_option_scope (scope_id),
    CONSTRAINT fk_dhcp4_options_Host FOREIGN KEY (host_id) REFERENCES hosts (host_id)
        ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE = InnoDB;

CREATE TABLE dhcp6_options (
    option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code SMALLINT UNSIGNED NOT NULL,
    value BLOB DEFAULT NULL,
    formatted_value TEXT DEFAULT NULL,
    space VARCHAR(128) DEFAULT NULL,
    persistent TINYINT(1) NOT NULL DEFAULT 0,
    dhcp_client_class VARCHAR(128) DEFAULT NULL,
    dhcp6_subnet_id INT UNSIGNED DEFAULT NULL,
    host_id INT UNSIGNED DEFAULT NULL,
    scope_id TINYINT UNSIGNED NOT NULL,
    user_context TEXT DEFAULT NULL,
    shared_network_name VARCHAR(128) DEFAULT NULL,
    pool_id BIGINT UNSIGNED DEFAULT NULL,
    pd_pool_id BIGINT UNSIGNED DEFAULT NULL,
    modification_ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    KEY fk_options_host1_idx (host_id),
    KEY fk_dhcp6_option_scope (scope_id),
    KEY fk_dhcp6_options_subnet (dhcp6_subnet_id),
    CONSTRAINT fk_dhcp6_option_scope FOREIGN KEY (scope_id)
        REFERENCES dhcp_option_scope (scope_id),
    CONSTRAINT fk_dhcp6_options_Host FOREIGN KEY (host_id) REFERENCES hosts (host_id)
        ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE = InnoDB;

CREATE TABLE logs (
    timestamp TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    address VARCHAR(43) DEFAULT NULL,
    log TEXT NOT NULL,
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    KEY timestamp_index (timestamp)
) ENGINE = InnoDB;

INSERT INTO schema_version VALUES (14, 0);
