// Drives Switchboard with @figuro/chatwoot-sdk 1.1.17 (npm) through every
// call it shares with Switchboard's API, as a user of that library would
// write it (message creation goes out as multipart, as the SDK always sends
// it). Run by tests/e2e/chatwoot_clients.rs with NODE_PATH pointing at the
// installed SDK: node chatwoot_js.js BASE_URL TOKEN ACCOUNT_ID AGENT_ID.
// Prints one line per call; exits non-zero on the first failure.
"use strict";

const ChatwootClient = require("@figuro/chatwoot-sdk").default;
const crypto = require("node:crypto");

const [base, token, accountArg, agentArg] = process.argv.slice(2);
const accountId = Number(accountArg);
const agent = Number(agentArg);
const cw = new ChatwootClient({
    config: { basePath: base, with_credentials: false, credentials: "omit", token },
});

function check(name, condition, detail) {
    if (!condition) {
        console.log(`FAIL ${name}: ${JSON.stringify(detail)}`);
        process.exit(1);
    }
    console.log(`ok   ${name}`);
}

async function call(name, promise) {
    try {
        const result = await promise;
        console.log(`ok   ${name}`);
        return result;
    } catch (e) {
        console.log(`FAIL ${name}: ${e.status} ${JSON.stringify(e.body)} ${e.message}`);
        process.exit(1);
    }
}

(async () => {
    const me = await call("profile", cw.profile.profile());
    check("profile has the pubsub token", typeof me.pubsub_token === "string" && me.pubsub_token.length > 0, me);

    const inbox = await call(
        "inboxes.create (type api)",
        cw.inboxes.create({ accountId, data: { name: "JS API inbox", channel: { type: "api", webhook_url: "https://crm.example/js" } } }),
    );
    check("inbox is Channel::Api", inbox.channel_type === "Channel::Api", inbox);
    await call("inboxes.list", cw.inboxes.list({ accountId }));
    const shown = await call("inboxes.get", cw.inboxes.get({ accountId, id: inbox.id }));
    check("inbox read back", shown.id === inbox.id, shown);
    await call("inboxes.update", cw.inboxes.update({ accountId, id: inbox.id, data: { greeting_enabled: true, greeting_message: "Hi" } }));
    await call("inboxes.addAgent", cw.inboxes.addAgent({ accountId, data: { inbox_id: String(inbox.id), user_ids: [agent] } }));
    await call("inboxes.listAgents", cw.inboxes.listAgents({ accountId, inboxId: inbox.id }));
    await call("inboxes.updateAgentsInInbox", cw.inboxes.updateAgentsInInbox({ accountId, data: { inbox_id: String(inbox.id), user_ids: [agent] } }));

    const sourceId = `js-${crypto.randomUUID()}`;
    const created = await call(
        "contacts.create",
        cw.contacts.create({ accountId, data: { inbox_id: inbox.id, name: "Jay Ess", email: `${sourceId}@example.com`, avatar_url: "https://example.com/j.png", identifier: sourceId } }),
    );
    const contactId = created.payload.contact.id;
    const identity = created.payload.contact_inbox;
    const contact = await call("contacts.get", cw.contacts.get({ accountId, id: contactId }));
    const identities = contact.payload.contact_inboxes || [];
    check("contact_inboxes carry the source_id", identities.some((i) => i.source_id === identity.source_id), contact);
    await call("contacts.update", cw.contacts.update({ accountId, id: contactId, data: { name: "Jay Ess II", additional_attributes: { city: "Oslo" } } }));
    await call("contacts.list", cw.contacts.list({ accountId, page: 1 }));
    const found = await call("contacts.search", cw.contacts.search({ accountId, q: "Jay Ess", page: 1 }));
    check("search finds the contact", found.payload.some((c) => c.id === contactId), found);

    const opened = await call(
        "conversations.create (by source_id, ids as strings)",
        cw.conversations.create({ accountId, data: { source_id: identity.source_id, inbox_id: String(inbox.id) } }),
    );
    const conversationId = opened.id;
    await call("contacts.listConversations", cw.contacts.listConversations({ accountId, id: contactId }));

    const incoming = await call(
        "messages.create (multipart, incoming)",
        cw.messages.create({ accountId, conversationId, data: { content: "Customer from JS", message_type: "incoming", source_id: "ext-1" } }),
    );
    check("incoming has its contact as sender", incoming.sender && incoming.sender.type === "contact", incoming);
    const reply = await call(
        "messages.create (multipart, private, content_attributes)",
        cw.messages.create({ accountId, conversationId, data: { content: "A note", private: true, content_attributes: { in_reply_to: incoming.id } } }),
    );
    check("in_reply_to kept", reply.content_attributes && reply.content_attributes.in_reply_to === incoming.id, reply);
    const page = await call("messages.list", cw.messages.list({ accountId, conversationId }));
    check("messages listed with senders", page.payload.length === 2 && page.payload.every((m) => m.sender), page.payload);
    await call("messages.delete", cw.messages.delete({ accountId, conversationId, messageId: reply.id }));

    await call("conversationLabels.add", cw.conversationLabels.add({ accountId, conversationId, data: { labels: ["js", "vip"] } }));
    const labels = await call("conversationLabels.list", cw.conversationLabels.list({ accountId, conversationId }));
    check("labels read back", JSON.stringify(labels.payload) === JSON.stringify(["js", "vip"]), labels);

    const team = await call("teams.create", cw.teams.create({ accountId, data: { name: `js-${crypto.randomUUID().slice(0, 8)}`, description: "JS" } }));
    await call("teams.list", cw.teams.list({ accountId }));
    await call("teams.get", cw.teams.get({ accountId, teamId: team.id }));
    await call("teams.update", cw.teams.update({ accountId, teamId: team.id, data: { description: "JS team" } }));
    // The SDK's four team-member calls leave out /api/v1 from their paths
    // (`/accounts/{id}/teams/{team_id}/team_members`), a path Chatwoot does
    // not serve either; the Python client covers those endpoints.
    await call("conversationAssignment.assign (agent)", cw.conversationAssignment.assign({ accountId, conversationId, data: { assignee_id: agent } }));
    await call("conversationAssignment.assign (team)", cw.conversationAssignment.assign({ accountId, conversationId, data: { team_id: team.id } }));

    const list = await call("conversations.list (filters)", cw.conversations.list({ accountId, status: "open", teamId: team.id, labels: ["vip"], q: "Customer", page: 1 }));
    check("the filters find the conversation", list.data.payload.length === 1 && list.data.payload[0].id === conversationId && list.data.meta.all_count === 1, list.data);
    const meta = await call("conversations.getMeta", cw.conversations.getMeta({ accountId, status: "open", teamId: team.id }));
    check("the counts follow the filters", meta.meta.all_count === 1, meta);
    const conversation = await call("conversations.get", cw.conversations.get({ accountId, conversationId }));
    check("agent and team set", conversation.meta.assignee.id === agent && conversation.meta.team.id === team.id, conversation.meta);
    const toggled = await call("conversations.toggleStatus", cw.conversations.toggleStatus({ accountId, conversationId, data: { status: "resolved" } }));
    check("resolved", toggled.payload.current_status === "resolved", toggled);

    await call("teams.delete", cw.teams.delete({ accountId, teamId: team.id }));

    await call("agents.list", cw.agents.list({ accountId }));
    const newAgent = await call("agents.create", cw.agents.create({ accountId, data: { name: "JS Agent", email: `js-${crypto.randomUUID().slice(0, 8)}@example.com`, role: "agent" } }));
    const changed = await call("agents.update", cw.agents.update({ accountId, id: newAgent.id, data: { role: "administrator", availability: "busy" } }));
    check("role and availability changed", changed.role === "administrator" && changed.availability_status === "busy", changed);
    await call("agents.delete", cw.agents.delete({ accountId, id: newAgent.id }));

    // inboxes.removeAgent sends DELETE /inbox_members/{inbox_id}, a route
    // Chatwoot does not have (its removal is DELETE /inbox_members); the
    // Python client covers that endpoint.
    await call("contacts.delete", cw.contacts.delete({ accountId, id: contactId }));
    console.log("all javascript client calls passed");
})();
