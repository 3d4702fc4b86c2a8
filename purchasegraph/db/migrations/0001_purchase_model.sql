-- The self-service purchase model (../shared/DOMAIN.md).
--
-- Every tenant-owned table has tenant_id as the first column of its primary key, and every
-- reference between tenant-owned rows is a composite (tenant_id, id) foreign key, so a row can
-- never point into another tenant and the schema can later be distributed by tenant_id
-- (Citus-style: unique keys and foreign keys all include the distribution column).
-- products and product_prices are the public catalogue: reference tables, not tenant-owned.

CREATE TABLE tenants (
    id                uuid PRIMARY KEY,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
    primary_domain    text NOT NULL UNIQUE,
    managed           boolean NOT NULL,
    organization_type text NOT NULL
        CHECK (organization_type IN ('commercial', 'government', 'education', 'nonprofit')),
    country           char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    currency          char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    id                  uuid NOT NULL,
    display_name        text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 256),
    -- The sign-in name; unique everywhere, as a UPN is in a directory (guests get
    -- alias#EXT#@host-domain), so a token can be minted from it.
    user_principal_name text NOT NULL,
    mail                text,
    user_type           text NOT NULL DEFAULT 'member' CHECK (user_type IN ('member', 'guest')),
    source              text NOT NULL DEFAULT 'cloud' CHECK (source IN ('cloud', 'synced')),
    account_enabled     boolean NOT NULL DEFAULT true,
    departed_at         date,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_upn_key ON users (lower(user_principal_name));
CREATE INDEX users_by_tenant_name ON users (tenant_id, display_name, id);

CREATE TABLE directory_roles (
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    role       text NOT NULL CHECK (role IN ('global_admin', 'billing_admin', 'global_reader')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, role),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Delegated admin (GDAP): owned by the customer tenant, naming the partner tenant. Every member
-- user of the partner tenant acts through it while it is active (status and dates both).
CREATE TABLE partner_relationships (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL,
    partner_tenant_id uuid NOT NULL REFERENCES tenants (id),
    display_name      text NOT NULL,
    roles             text[] NOT NULL
        CHECK (roles <@ ARRAY['global_admin', 'billing_admin', 'global_reader']::text[]
               AND cardinality(roles) > 0),
    status            text NOT NULL CHECK (status IN ('active', 'expired', 'terminated')),
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (partner_tenant_id <> tenant_id),
    -- GDAP relationships are time-bound: at most two years.
    CHECK (ends_at > starts_at AND ends_at <= starts_at + interval '2 years')
);
CREATE INDEX partner_relationships_by_partner ON partner_relationships (partner_tenant_id, status);

CREATE TABLE products (
    id                            text PRIMARY KEY CHECK (id ~ '^[A-Z0-9]{12}$'),
    name                          text NOT NULL,
    family                        text NOT NULL
        CHECK (family IN ('power_bi', 'power_apps', 'power_automate', 'project', 'visio')),
    self_service                  boolean NOT NULL DEFAULT true,
    trial_available               boolean NOT NULL DEFAULT false,
    trial_days                    integer CHECK (trial_days > 0),
    trial_requires_payment_method boolean NOT NULL DEFAULT true,
    CHECK (trial_available = (trial_days IS NOT NULL))
);

-- List price per license per month, per market and channel: the self-service price may
-- differ from the price a central (admin) purchase pays.
CREATE TABLE product_prices (
    product_id text NOT NULL REFERENCES products (id),
    market     char(2) NOT NULL CHECK (market ~ '^[A-Z]{2}$'),
    channel    text NOT NULL CHECK (channel IN ('self_service', 'central')),
    currency   char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    unit_price numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (product_id, market, channel)
);

-- The MSCommerce AllowSelfServicePurchase policy; a product with no row is 'enabled'.
CREATE TABLE self_service_policies (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    product_id text NOT NULL REFERENCES products (id),
    value      text NOT NULL
        CHECK (value IN ('enabled', 'disabled', 'only_trials_without_payment_method')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid,
    PRIMARY KEY (tenant_id, product_id)
);

-- Credit cards only; the card number and CVC never reach this table, only what the
-- processor hands back.
CREATE TABLE payment_methods (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    owner_user_id   uuid NOT NULL,
    kind            text NOT NULL DEFAULT 'credit_card' CHECK (kind = 'credit_card'),
    brand           text NOT NULL CHECK (brand IN ('visa', 'mastercard', 'amex', 'discover')),
    last4           char(4) NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    exp_month       smallint NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year        smallint NOT NULL CHECK (exp_year BETWEEN 2000 AND 2100),
    processor_token text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX payment_methods_by_owner ON payment_methods (tenant_id, owner_user_id);

CREATE TABLE subscriptions (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL,
    product_id        text NOT NULL REFERENCES products (id),
    channel           text NOT NULL CHECK (channel IN ('self_service', 'central')),
    purchaser_user_id uuid,
    -- Who governs it: its purchaser, or the tenant's admins once they took it over.
    controlled_by     text NOT NULL CHECK (controlled_by IN ('purchaser', 'admins')),
    quantity          integer NOT NULL CHECK (quantity BETWEEN 0 AND 1000000),
    status            text NOT NULL
        CHECK (status IN ('trial', 'active', 'expired', 'disabled', 'deleted')),
    is_trial          boolean NOT NULL DEFAULT false,
    term_start        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    auto_renew        boolean NOT NULL DEFAULT true,
    billing_frequency text NOT NULL DEFAULT 'monthly' CHECK (billing_frequency IN ('monthly', 'annual')),
    payment_method_id uuid,
    unit_price        numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    currency          char(3) NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    canceled_at       timestamptz,
    cancel_reason     text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, purchaser_user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_method_id) REFERENCES payment_methods (tenant_id, id),
    CHECK ((channel = 'self_service') = (purchaser_user_id IS NOT NULL)),
    CHECK (channel = 'self_service' OR controlled_by = 'admins'),
    CHECK (expires_at > term_start)
);
CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant_id, created_at, id);
CREATE INDEX subscriptions_by_purchaser ON subscriptions (tenant_id, purchaser_user_id, created_at, id);
CREATE INDEX subscriptions_by_product ON subscriptions (tenant_id, product_id);

-- Order history: every change to a subscription is one line.
CREATE TABLE orders (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    subscription_id uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('purchase', 'trial', 'add_licenses', 'remove_licenses',
                                                  'cancel', 'renew', 'take_over', 'reactivate')),
    actor_user_id   uuid,
    -- A partner or admin acting from another tenant is named here, not as a local user.
    actor_tenant_id uuid NOT NULL REFERENCES tenants (id),
    quantity_delta  integer NOT NULL,
    quantity_after  integer NOT NULL CHECK (quantity_after >= 0),
    unit_price      numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    total           numeric(14, 2) NOT NULL,
    currency        char(3) NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id)
);
CREATE INDEX orders_by_subscription ON orders (tenant_id, subscription_id, created_at DESC, id);
CREATE INDEX orders_purchases_by_tenant ON orders (tenant_id, created_at DESC, id)
    WHERE kind IN ('purchase', 'add_licenses', 'renew');

CREATE TABLE license_assignments (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    subscription_id uuid NOT NULL,
    user_id         uuid NOT NULL,
    assigned_by     uuid,
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    CHECK (removed_at IS NULL OR removed_at >= assigned_at)
);
-- One live license per user per subscription.
CREATE UNIQUE INDEX license_assignments_live_key
    ON license_assignments (tenant_id, subscription_id, user_id) WHERE removed_at IS NULL;
CREATE INDEX license_assignments_by_subscription
    ON license_assignments (tenant_id, subscription_id, assigned_at, id) WHERE removed_at IS NULL;
CREATE INDEX license_assignments_by_user
    ON license_assignments (tenant_id, user_id) WHERE removed_at IS NULL;

CREATE TABLE invoices (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    subscription_id uuid NOT NULL,
    -- The purchaser is billed (rule 8); kept on the invoice so a take-over does not rewrite history.
    billed_user_id  uuid,
    period_start    date NOT NULL,
    period_end      date NOT NULL,
    amount          numeric(14, 2) NOT NULL CHECK (amount >= 0),
    currency        char(3) NOT NULL,
    status          text NOT NULL CHECK (status IN ('open', 'paid', 'past_due')),
    due_date        date NOT NULL,
    paid_at         timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id),
    FOREIGN KEY (tenant_id, billed_user_id) REFERENCES users (tenant_id, id),
    CHECK (period_end >= period_start),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX invoices_by_subscription ON invoices (tenant_id, subscription_id, period_start DESC, id);

CREATE TABLE cancellation_requests (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    subscription_id uuid NOT NULL,
    requested_by    uuid,
    requested_by_tenant_id uuid NOT NULL REFERENCES tenants (id),
    message         text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'withdrawn')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id)
);
CREATE INDEX cancellation_requests_by_subscription ON cancellation_requests (tenant_id, subscription_id);

-- A blocked product may be requested; requests are kept 12 months.
CREATE TABLE license_requests (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    product_id        text NOT NULL REFERENCES products (id),
    requester_user_id uuid NOT NULL,
    for_user_ids      uuid[] NOT NULL DEFAULT '{}',
    status            text NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    decided_by        uuid,
    decided_at        timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, requester_user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX license_requests_by_tenant ON license_requests (tenant_id, created_at DESC);

CREATE TABLE notifications (
    tenant_id  uuid NOT NULL,
    id         uuid NOT NULL,
    user_id    uuid NOT NULL,
    kind       text NOT NULL,
    subject_id uuid,
    message    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX notifications_by_user ON notifications (tenant_id, user_id, created_at DESC);

-- Append-only: the application role may insert and read, never update or delete.
CREATE TABLE audit_events (
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    id                     bigint GENERATED ALWAYS AS IDENTITY,
    actor_user_id          uuid,
    actor_tenant_id        uuid,
    on_behalf_of_tenant_id uuid,
    action                 text NOT NULL,
    target_type            text NOT NULL,
    target_id              text NOT NULL,
    request_id             text,
    details                jsonb NOT NULL DEFAULT '{}',
    occurred_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_by_target ON audit_events (tenant_id, target_type, target_id);

CREATE FUNCTION audit_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_are_append_only();
