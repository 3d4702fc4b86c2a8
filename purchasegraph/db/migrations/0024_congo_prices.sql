-- The Democratic Republic of the Congo as a market of the shipped catalogue (purchasegraph/catalogue.py):
-- billed in US dollars at the US list prices. Project and Visio are not sold there, so they have no
-- price in it, and an existing price is kept as it is.
INSERT INTO product_prices (product_id, market, channel, currency, unit_price)
VALUES
    ('CFQ7TTC0LH2H', 'CD', 'self_service', 'USD', 20.00),
    ('CFQ7TTC0LH2H', 'CD', 'central', 'USD', 19.00),
    ('CFQ7TTC0LH3L', 'CD', 'self_service', 'USD', 15.00),
    ('CFQ7TTC0LH3L', 'CD', 'central', 'USD', 15.00),
    ('CFQ7TTC0LSGZ', 'CD', 'self_service', 'USD', 40.00),
    ('CFQ7TTC0LSGZ', 'CD', 'central', 'USD', 40.00),
    ('CFQ7TTC0H6RP', 'CD', 'self_service', 'USD', 20.00),
    ('CFQ7TTC0H6RP', 'CD', 'central', 'USD', 20.00),
    ('CFQ7TTC0H9MP', 'CD', 'self_service', 'USD', 10.00),
    ('CFQ7TTC0H9MP', 'CD', 'central', 'USD', 9.99)
ON CONFLICT DO NOTHING;
