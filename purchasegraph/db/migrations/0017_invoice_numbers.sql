-- Invoice numbers, and the index of a purchaser's own bills (issue 13, "my bills").
--
-- Every invoice gets a human number, INV-<year>-<nnnnnn>: the year of its period's first day and
-- its place among the tenant's invoices of that year, 1, 2, 3, … in the order they were written
-- (six digits at least; a seventh when a tenant bills a millionth time in a year).
-- Unique per tenant; never changed once given (the number is printed on the bill).
--
-- As audit_events.tenant_seq (0015): a BEFORE INSERT trigger numbers every row from a counter
-- row per tenant and year, whoever inserts it (the gateway's purchases and payments, the
-- lifecycle sweep's renewals, the seed) and whatever number it names. The counter's row lock is
-- held until commit, so two transactions billing one tenant take numbers in turn, never the same
-- one, and a rolled-back bill gives its number back (no gaps).

CREATE TABLE invoice_number_counters (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    year        integer NOT NULL,
    last_number integer NOT NULL,
    PRIMARY KEY (tenant_id, year)
);
-- Like every table with a tenant_id (0003): the gateway reads what it reaches, and writes none.
GRANT SELECT ON invoice_number_counters TO purchasegraph_gateway;
ALTER TABLE invoice_number_counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON invoice_number_counters
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE invoices ADD COLUMN number text;

-- Existing invoices, numbered per tenant and year in period order (then id, to be total).
UPDATE invoices i SET number = 'INV-' || n.year || '-' || lpad(n.seq::text, greatest(6, length(n.seq::text)), '0')
  FROM (SELECT tenant_id, id, extract(year FROM period_start)::int AS year,
               row_number() OVER (PARTITION BY tenant_id, extract(year FROM period_start)
                                  ORDER BY period_start, id) AS seq
          FROM invoices) n
 WHERE i.tenant_id = n.tenant_id AND i.id = n.id;

INSERT INTO invoice_number_counters (tenant_id, year, last_number)
SELECT tenant_id, extract(year FROM period_start)::int, count(*)
  FROM invoices
 GROUP BY tenant_id, extract(year FROM period_start)::int;

ALTER TABLE invoices ALTER COLUMN number SET NOT NULL;
ALTER TABLE invoices ADD CONSTRAINT invoices_number_unique UNIQUE (tenant_id, number);

-- SECURITY DEFINER: the counters are the owner's alone. Search path pinned, as in 0003.
CREATE FUNCTION invoices_number_in_tenant() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    bill_year integer := extract(year FROM NEW.period_start)::int;
    next_number integer;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        NEW.number := OLD.number;  -- printed on the bill: never renumbered
        RETURN NEW;
    END IF;
    INSERT INTO invoice_number_counters AS c (tenant_id, year, last_number)
    VALUES (NEW.tenant_id, bill_year, 1)
    ON CONFLICT (tenant_id, year) DO UPDATE SET last_number = c.last_number + 1
    RETURNING c.last_number INTO next_number;
    NEW.number := 'INV-' || bill_year || '-' || lpad(next_number::text, greatest(6, length(next_number::text)), '0');
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION invoices_number_in_tenant() FROM PUBLIC;
CREATE TRIGGER invoices_number
    BEFORE INSERT OR UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_number_in_tenant();

-- Viewer.invoices: one user's bills, newest first, a page past a cursor one index seek.
CREATE INDEX invoices_by_billed_user ON invoices (tenant_id, billed_user_id, period_start DESC, id);
