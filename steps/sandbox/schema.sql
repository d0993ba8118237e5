-- The QuantAI system database as drbook's sandbox builds it. Checks, the
-- kill switch, reconciliation and backups all read these tables; change the
-- column names only together with them.
PRAGMA foreign_keys = ON;

CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    account_type TEXT NOT NULL CHECK (account_type IN ('cash', 'margin')),
    broker       TEXT NOT NULL CHECK (broker IN ('ibkr', 'alpaca')),
    balance      REAL NOT NULL,
    currency     TEXT NOT NULL DEFAULT 'USD',
    updated_at   TEXT NOT NULL
);

CREATE TABLE positions (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    symbol     TEXT NOT NULL,
    broker     TEXT NOT NULL CHECK (broker IN ('ibkr', 'alpaca')),
    quantity   REAL NOT NULL,
    avg_price  REAL NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (broker, symbol)
);

CREATE TABLE orders (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    symbol     TEXT NOT NULL,
    broker     TEXT NOT NULL CHECK (broker IN ('ibkr', 'alpaca')),
    side       TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity   REAL NOT NULL,
    limit_price REAL,
    status     TEXT NOT NULL CHECK (status IN ('open', 'pending', 'filled', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- trades.position_id deliberately has no REFERENCES clause: the plan's
-- orphaned-trades query (section 3.1) is how the system finds broken links.
CREATE TABLE trades (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER REFERENCES orders(id),
    position_id INTEGER NOT NULL,
    symbol      TEXT NOT NULL,
    side        TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity    REAL NOT NULL, -- signed: buys positive, sells negative
    price       REAL NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('filled', 'pending', 'cancelled')),
    executed_at TEXT NOT NULL
);
CREATE INDEX trades_position ON trades(position_id);

CREATE TABLE audit_trail (
    id        INTEGER PRIMARY KEY, -- monotonic, no gaps
    timestamp TEXT NOT NULL,       -- RFC 3339 UTC with nanoseconds, increasing with id
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_trail_timestamp ON audit_trail(timestamp);

-- The kill switch: one row per flag, 'trading_halted' = '1' halts trading.
CREATE TABLE control (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);

-- Partial indexes for what is in flight: the checks and the kill switch
-- find pending trades and open orders without scanning millions of rows.
CREATE INDEX trades_pending ON trades(id) WHERE status = 'pending';
CREATE INDEX orders_open ON orders(id) WHERE status IN ('open', 'pending');
