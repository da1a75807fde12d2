-- 0019 Meter metadata (issue 15): what each gateway publishes, retained, on
-- <root>/<site>/<meter>/info (gateway/meterinfo.py): the register map, the Modbus unit id,
-- the channel of the plant's register file, the identifier its detection read answered
-- ("CH30-001"), the port, and per register the plant file's own name, description and AI
-- flag. The ingestor stores the newest one: the meter's part in `meters`, its registers in
-- `meter_registers` (one row per canonical quantity the meter publishes). Grafana's
-- "Registros monitorados" shows them beside the latest values, as the old Dash app did.
-- The Modbus diagnostics of a channel carry its channel, port and identifier too.
-- One file for both TimescaleDB builds (no hypertable or policy here).

ALTER TABLE meters
    ADD COLUMN gateway         text,
    ADD COLUMN map_file        text,
    ADD COLUMN unit_id         integer CHECK (unit_id BETWEEN 0 AND 255),
    ADD COLUMN channel         text,
    ADD COLUMN identifier      text,
    ADD COLUMN port            text,
    ADD COLUMN info_changed_at timestamptz;
COMMENT ON COLUMN meters.model IS 'Meter model (register map name); the gateway''s info message keeps it current.';
COMMENT ON COLUMN meters.gateway IS 'Gateway id that polls the meter (from its info message).';
COMMENT ON COLUMN meters.map_file IS 'File name of the register map the gateway reads the meter with.';
COMMENT ON COLUMN meters.unit_id IS 'Modbus unit (slave) id of the meter.';
COMMENT ON COLUMN meters.channel IS 'Channel of the plant''s register file this meter is (for example "CH30 canal 1"); NULL for other maps.';
COMMENT ON COLUMN meters.identifier IS 'What the channel''s detection read answered (for example "CH30-001"); NULL before the first answer or without detection.';
COMMENT ON COLUMN meters.port IS 'Where the gateway reaches the meter: serial port and line ("/dev/ttyUSB0 9600 8N2", "COM3 9600 8N2") or host:port.';
COMMENT ON COLUMN meters.info_changed_at IS 'When the ingestor last stored a changed info message of the meter; NULL: none received yet.';

CREATE TABLE meter_registers (
    meter_id    integer NOT NULL REFERENCES meters (meter_id) ON DELETE CASCADE,
    quantity    text NOT NULL,
    position    integer NOT NULL CHECK (position >= 0),
    name        text,
    description text,
    unit        text NOT NULL,
    ai          boolean,
    PRIMARY KEY (meter_id, quantity)
);
COMMENT ON TABLE meter_registers IS 'The canonical quantities each meter publishes, from its newest info message, with the plant register file''s own words for them.';
COMMENT ON COLUMN meter_registers.quantity IS 'Canonical quantity (gateway/quantities.py), the readings column.';
COMMENT ON COLUMN meter_registers.position IS 'Order of the register in the meter''s map (0 = first).';
COMMENT ON COLUMN meter_registers.name IS 'The plant file''s own measurement name (for example tensao_l1); NULL for other maps.';
COMMENT ON COLUMN meter_registers.description IS 'The plant file''s description (for example "Tensão fase-neutro L1"); NULL for other maps.';
COMMENT ON COLUMN meter_registers.unit IS 'Unit of the stored value (the quantity''s canonical unit).';
COMMENT ON COLUMN meter_registers.ai IS 'The plant file''s "ai" flag (the old app fed this value to its AI); NULL for other maps.';

ALTER TABLE modbus_meter_diagnostics
    ADD COLUMN channel    text,
    ADD COLUMN port       text,
    ADD COLUMN identifier text;
COMMENT ON COLUMN modbus_meter_diagnostics.channel IS 'Channel of the plant''s register file, when the meter is one.';
COMMENT ON COLUMN modbus_meter_diagnostics.port IS 'Where the meter answered its detection read (serial port and line, or host:port).';
COMMENT ON COLUMN modbus_meter_diagnostics.identifier IS 'What the channel''s detection read answered at the end of the period.';

-- Power BI reaches schema bi only (0012): the registers with their meter's metadata.
CREATE VIEW bi.meter_registers AS
SELECT m.site_id, m.name AS meter, r.position, r.quantity, r.name AS register_name,
       r.description, r.unit, r.ai, m.model, m.channel, m.identifier, m.port, m.unit_id
FROM meter_registers r
JOIN meters m ON m.meter_id = r.meter_id;
COMMENT ON VIEW bi.meter_registers IS 'What each meter measures, as its gateway last described it: one row per published quantity, with the plant register file''s own name, description and AI flag.';
COMMENT ON COLUMN bi.meter_registers.site_id IS 'Site (plant) identifier.';
COMMENT ON COLUMN bi.meter_registers.meter IS 'Meter name, as in the MQTT topic.';
COMMENT ON COLUMN bi.meter_registers.position IS 'Order of the register in the meter''s map (0 = first).';
COMMENT ON COLUMN bi.meter_registers.quantity IS 'Canonical quantity: the column of the same name in bi.readings_1m.';
COMMENT ON COLUMN bi.meter_registers.register_name IS 'The plant file''s own measurement name (for example tensao_l1); empty for other maps.';
COMMENT ON COLUMN bi.meter_registers.description IS 'The plant file''s description (for example "Tensão fase-neutro L1"); empty for other maps.';
COMMENT ON COLUMN bi.meter_registers.unit IS 'Unit of the values.';
COMMENT ON COLUMN bi.meter_registers.ai IS 'The plant file''s "ai" flag; empty for other maps.';
COMMENT ON COLUMN bi.meter_registers.model IS 'Meter model (register map name).';
COMMENT ON COLUMN bi.meter_registers.channel IS 'Channel of the plant''s register file (for example "CH30 canal 1").';
COMMENT ON COLUMN bi.meter_registers.identifier IS 'What the meter answered to its detection read (for example "CH30-001").';
COMMENT ON COLUMN bi.meter_registers.port IS 'Where the gateway reaches the meter (serial port and line, or host:port).';
COMMENT ON COLUMN bi.meter_registers.unit_id IS 'Modbus unit (slave) id of the meter.';

-- The ingestor keeps the metadata current (it may not touch the operator's columns:
-- description, nominal voltages, include_in_site_total); Grafana and analytics read it;
-- Power BI through the bi view only.
GRANT UPDATE (model, gateway, map_file, unit_id, channel, identifier, port, info_changed_at)
    ON meters TO emusa_ingestor;
GRANT SELECT, INSERT, UPDATE, DELETE ON meter_registers TO emusa_ingestor;
GRANT SELECT ON meter_registers TO emusa_grafana, emusa_analytics;
GRANT SELECT ON bi.meter_registers TO emusa_bi, emusa_grafana, emusa_analytics;
