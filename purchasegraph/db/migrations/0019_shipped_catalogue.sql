-- The catalogue ships with every deployment: products and list prices are reference
-- data, not demo data, so a database migrated with no seed (DATABASE_URL, seed off) sells them.
-- Generated once from purchasegraph/catalogue.py, which stays the source the seed and the tests
-- read; a later catalogue change is a new migration. ON CONFLICT DO NOTHING: a database the demo
-- seed filled before this migration keeps its rows.
--
-- Each product also says where the FAQ sends its buyers: the product's website (training,
-- guided learning, community) and Microsoft's standard support, one pair per product family.

ALTER TABLE products ADD COLUMN learn_more_url text, ADD COLUMN support_url text;

INSERT INTO products (id, name, family, self_service, trial_available, trial_days,
                      trial_requires_payment_method, learn_more_url, support_url)
VALUES
    ('CFQ7TTC0LH2H', 'Power Apps per user', 'power_apps', true, false, NULL, true,
     'https://www.microsoft.com/power-platform/products/power-apps',
     'https://powerapps.microsoft.com/support/'),
    ('CFQ7TTC0LH3L', 'Power Automate per user', 'power_automate', true, false, NULL, true,
     'https://www.microsoft.com/power-platform/products/power-automate',
     'https://powerautomate.microsoft.com/support/'),
    ('CFQ7TTC0LSGZ', 'Power Automate per user with attended RPA', 'power_automate', true, false, NULL, true,
     'https://www.microsoft.com/power-platform/products/power-automate',
     'https://powerautomate.microsoft.com/support/'),
    ('CFQ7TTC0H6RP', 'Power BI Premium per user', 'power_bi', true, false, NULL, true,
     'https://www.microsoft.com/power-platform/products/power-bi',
     'https://powerbi.microsoft.com/support/'),
    ('CFQ7TTC0H9MP', 'Power BI Pro', 'power_bi', true, true, 60, true,
     'https://www.microsoft.com/power-platform/products/power-bi',
     'https://powerbi.microsoft.com/support/'),
    ('CFQ7TTC0HDB0', 'Project Plan 3', 'project', true, false, NULL, true,
     'https://www.microsoft.com/microsoft-365/project/project-management-software',
     'https://support.microsoft.com/project'),
    ('CFQ7TTC0HD33', 'Visio Plan 1', 'visio', true, true, 30, false,
     'https://www.microsoft.com/microsoft-365/visio/flowchart-software',
     'https://support.microsoft.com/visio'),
    ('CFQ7TTC0HD32', 'Visio Plan 2', 'visio', true, false, NULL, true,
     'https://www.microsoft.com/microsoft-365/visio/flowchart-software',
     'https://support.microsoft.com/visio')
ON CONFLICT (id) DO NOTHING;

INSERT INTO product_prices (product_id, market, channel, currency, unit_price)
VALUES
    ('CFQ7TTC0LH2H', 'US', 'self_service', 'USD', 20.00),
    ('CFQ7TTC0LH2H', 'US', 'central', 'USD', 19.00),
    ('CFQ7TTC0LH2H', 'DE', 'self_service', 'EUR', 18.70),
    ('CFQ7TTC0LH2H', 'DE', 'central', 'EUR', 17.80),
    ('CFQ7TTC0LH2H', 'GB', 'self_service', 'GBP', 15.10),
    ('CFQ7TTC0LH2H', 'GB', 'central', 'GBP', 14.40),
    ('CFQ7TTC0LH2H', 'BR', 'self_service', 'BRL', 105.00),
    ('CFQ7TTC0LH2H', 'BR', 'central', 'BRL', 100.00),
    ('CFQ7TTC0LH2H', 'IN', 'self_service', 'INR', 1670.00),
    ('CFQ7TTC0LH2H', 'IN', 'central', 'INR', 1590.00),
    ('CFQ7TTC0LH3L', 'US', 'self_service', 'USD', 15.00),
    ('CFQ7TTC0LH3L', 'US', 'central', 'USD', 15.00),
    ('CFQ7TTC0LH3L', 'DE', 'self_service', 'EUR', 14.00),
    ('CFQ7TTC0LH3L', 'DE', 'central', 'EUR', 14.00),
    ('CFQ7TTC0LH3L', 'GB', 'self_service', 'GBP', 11.30),
    ('CFQ7TTC0LH3L', 'GB', 'central', 'GBP', 11.30),
    ('CFQ7TTC0LH3L', 'BR', 'self_service', 'BRL', 78.80),
    ('CFQ7TTC0LH3L', 'BR', 'central', 'BRL', 78.80),
    ('CFQ7TTC0LH3L', 'IN', 'self_service', 'INR', 1250.00),
    ('CFQ7TTC0LH3L', 'IN', 'central', 'INR', 1250.00),
    ('CFQ7TTC0LSGZ', 'US', 'self_service', 'USD', 40.00),
    ('CFQ7TTC0LSGZ', 'US', 'central', 'USD', 40.00),
    ('CFQ7TTC0LSGZ', 'DE', 'self_service', 'EUR', 37.40),
    ('CFQ7TTC0LSGZ', 'DE', 'central', 'EUR', 37.40),
    ('CFQ7TTC0LSGZ', 'GB', 'self_service', 'GBP', 30.20),
    ('CFQ7TTC0LSGZ', 'GB', 'central', 'GBP', 30.20),
    ('CFQ7TTC0LSGZ', 'BR', 'self_service', 'BRL', 210.00),
    ('CFQ7TTC0LSGZ', 'BR', 'central', 'BRL', 210.00),
    ('CFQ7TTC0LSGZ', 'IN', 'self_service', 'INR', 3340.00),
    ('CFQ7TTC0LSGZ', 'IN', 'central', 'INR', 3340.00),
    ('CFQ7TTC0H6RP', 'US', 'self_service', 'USD', 20.00),
    ('CFQ7TTC0H6RP', 'US', 'central', 'USD', 20.00),
    ('CFQ7TTC0H6RP', 'DE', 'self_service', 'EUR', 18.70),
    ('CFQ7TTC0H6RP', 'DE', 'central', 'EUR', 18.70),
    ('CFQ7TTC0H6RP', 'GB', 'self_service', 'GBP', 15.10),
    ('CFQ7TTC0H6RP', 'GB', 'central', 'GBP', 15.10),
    ('CFQ7TTC0H6RP', 'BR', 'self_service', 'BRL', 105.00),
    ('CFQ7TTC0H6RP', 'BR', 'central', 'BRL', 105.00),
    ('CFQ7TTC0H6RP', 'IN', 'self_service', 'INR', 1670.00),
    ('CFQ7TTC0H6RP', 'IN', 'central', 'INR', 1670.00),
    ('CFQ7TTC0H9MP', 'US', 'self_service', 'USD', 10.00),
    ('CFQ7TTC0H9MP', 'US', 'central', 'USD', 9.99),
    ('CFQ7TTC0H9MP', 'DE', 'self_service', 'EUR', 9.40),
    ('CFQ7TTC0H9MP', 'DE', 'central', 'EUR', 9.00),
    ('CFQ7TTC0H9MP', 'GB', 'self_service', 'GBP', 7.50),
    ('CFQ7TTC0H9MP', 'GB', 'central', 'GBP', 7.20),
    ('CFQ7TTC0H9MP', 'BR', 'self_service', 'BRL', 52.50),
    ('CFQ7TTC0H9MP', 'BR', 'central', 'BRL', 50.00),
    ('CFQ7TTC0H9MP', 'IN', 'self_service', 'INR', 835.00),
    ('CFQ7TTC0H9MP', 'IN', 'central', 'INR', 800.00),
    ('CFQ7TTC0HDB0', 'US', 'self_service', 'USD', 30.00),
    ('CFQ7TTC0HDB0', 'US', 'central', 'USD', 28.50),
    ('CFQ7TTC0HDB0', 'DE', 'self_service', 'EUR', 28.10),
    ('CFQ7TTC0HDB0', 'DE', 'central', 'EUR', 26.70),
    ('CFQ7TTC0HDB0', 'GB', 'self_service', 'GBP', 22.60),
    ('CFQ7TTC0HDB0', 'GB', 'central', 'GBP', 21.50),
    ('CFQ7TTC0HDB0', 'IN', 'self_service', 'INR', 2505.00),
    ('CFQ7TTC0HDB0', 'IN', 'central', 'INR', 2380.00),
    ('CFQ7TTC0HD33', 'US', 'self_service', 'USD', 5.00),
    ('CFQ7TTC0HD33', 'US', 'central', 'USD', 5.00),
    ('CFQ7TTC0HD33', 'DE', 'self_service', 'EUR', 4.70),
    ('CFQ7TTC0HD33', 'DE', 'central', 'EUR', 4.70),
    ('CFQ7TTC0HD33', 'GB', 'self_service', 'GBP', 3.80),
    ('CFQ7TTC0HD33', 'GB', 'central', 'GBP', 3.80),
    ('CFQ7TTC0HD33', 'IN', 'self_service', 'INR', 420.00),
    ('CFQ7TTC0HD33', 'IN', 'central', 'INR', 420.00),
    ('CFQ7TTC0HD32', 'US', 'self_service', 'USD', 15.00),
    ('CFQ7TTC0HD32', 'US', 'central', 'USD', 14.25),
    ('CFQ7TTC0HD32', 'DE', 'self_service', 'EUR', 14.00),
    ('CFQ7TTC0HD32', 'DE', 'central', 'EUR', 13.30),
    ('CFQ7TTC0HD32', 'GB', 'self_service', 'GBP', 11.30),
    ('CFQ7TTC0HD32', 'GB', 'central', 'GBP', 10.70),
    ('CFQ7TTC0HD32', 'IN', 'self_service', 'INR', 1250.00),
    ('CFQ7TTC0HD32', 'IN', 'central', 'INR', 1190.00)
ON CONFLICT (product_id, market, channel) DO NOTHING;

-- Rows that were already there (seeded before this migration) get their family's sites.
UPDATE products p
   SET learn_more_url = s.learn_more_url, support_url = s.support_url
  FROM (VALUES
    ('power_apps', 'https://www.microsoft.com/power-platform/products/power-apps', 'https://powerapps.microsoft.com/support/'),
    ('power_automate', 'https://www.microsoft.com/power-platform/products/power-automate', 'https://powerautomate.microsoft.com/support/'),
    ('power_bi', 'https://www.microsoft.com/power-platform/products/power-bi', 'https://powerbi.microsoft.com/support/'),
    ('project', 'https://www.microsoft.com/microsoft-365/project/project-management-software', 'https://support.microsoft.com/project'),
    ('visio', 'https://www.microsoft.com/microsoft-365/visio/flowchart-software', 'https://support.microsoft.com/visio')
  ) s (family, learn_more_url, support_url)
 WHERE p.family = s.family AND p.learn_more_url IS NULL;

ALTER TABLE products
    ALTER COLUMN learn_more_url SET NOT NULL,
    ALTER COLUMN support_url SET NOT NULL,
    ADD CHECK (learn_more_url ~ '^https://'),
    ADD CHECK (support_url ~ '^https://');
