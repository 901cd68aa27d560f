-- Display ids come from one sequence per account on PostgreSQL, as in
-- Chatwoot (conv_dpid_seq_<account id>): nextval() takes no lock that lasts
-- until commit, so conversations opened at once by workers on several nodes
-- no longer queue on the account row. The counter column stays for SQLite
-- (one writer) and is not used here any more. A creation rolled back after
-- taking its id leaves a gap, as in Chatwoot; an id never repeats.
CREATE FUNCTION account_display_id_sequence() RETURNS trigger AS $$
BEGIN
    EXECUTE format('CREATE SEQUENCE IF NOT EXISTS conv_dpid_seq_%s', NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER accounts_display_id_sequence AFTER INSERT ON accounts
    FOR EACH ROW EXECUTE FUNCTION account_display_id_sequence();

-- Accounts that exist already continue from their counter.
DO $$
DECLARE
    account RECORD;
BEGIN
    FOR account IN SELECT id, conversation_seq FROM accounts LOOP
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS conv_dpid_seq_%s START %s', account.id,
                       account.conversation_seq + 1);
    END LOOP;
END;
$$;
