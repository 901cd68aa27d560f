"""Drives Switchboard with Chatwoot's generated Python client
(chatwoot-python-client 1.0.0.18, PyPI) through every call it shares with
Switchboard's API, as a user of that library would write it. Run by
tests/e2e/chatwoot_clients.rs: python chatwoot_python.py BASE_URL TOKEN
ACCOUNT_ID AGENT_ID. Prints one line per call; exits non-zero on the first
call that fails or answers something the client cannot read back."""

import json
import sys
import uuid

import chatwoot_client as cw
from chatwoot_client.rest import ApiException

base, token, account, agent = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
config = cw.Configuration()
config.host = base
config.api_key["api_access_token"] = token
client = cw.ApiClient(config)


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}", flush=True)
        sys.exit(1)
    print(f"ok   {name}", flush=True)


def call(name, fn, *args, **kwargs):
    try:
        result = fn(*args, **kwargs)
    except ApiException as e:
        print(f"FAIL {name}: {e.status} {e.body}", flush=True)
        sys.exit(1)
    print(f"ok   {name}", flush=True)
    return result


profile = call("profile", cw.ProfileApi(client).fetch_profile)
check("profile is the caller", profile.email is not None and profile.id is not None, profile)

inboxes = cw.InboxesApi(client)
created = call(
    "inbox_creation (type api, trailing slash)",
    inboxes.inbox_creation,
    cw.AccountIdInboxesBody(name="Python API inbox", channel={"type": "api", "webhook_url": "https://crm.example/hook"}),
    account,
)
check("inbox is Channel::Api", created.channel_type == "Channel::Api", created)
inbox = created.id
shown = call("get_inbox", inboxes.get_inbox, account, inbox)
check("inbox read back", shown.id == inbox and shown.name == "Python API inbox", shown)
call("list_all_inboxes", inboxes.list_all_inboxes, account)
updated = call("update_inbox", inboxes.update_inbox, cw.InboxesIdBody(enable_auto_assignment=False), account, inbox)
check("inbox updated", updated.enable_auto_assignment is False, updated)
members = call(
    "add_new_agent_to_inbox (inbox_id as a string)",
    inboxes.add_new_agent_to_inbox,
    cw.AccountIdInboxMembersBody(inbox_id=str(inbox), user_ids=[agent]),
    account,
)
call("get_inbox_members", inboxes.get_inbox_members, account, inbox)
call(
    "update_agents_in_inbox",
    inboxes.update_agents_in_inbox,
    cw.AccountIdInboxMembersBody2(inbox_id=str(inbox), user_ids=[agent]),
    account,
)

contacts = cw.ContactsApi(client)
source_id = f"py-{uuid.uuid4()}"
contact = call(
    "contact_create (with an inbox and unknown fields)",
    contacts.contact_create,
    {"inbox_id": inbox, "name": "Py Thon", "email": f"{source_id}@example.com", "source_id": source_id,
     "avatar_url": "https://example.com/a.png", "additional_attributes": {"city": "Lyon"}},
    account,
)
raw_contact = client.sanitize_for_serialization(contact)
contact_id = raw_contact["payload"]["contact"]["id"]
call("contact_details", contacts.contact_details, account, contact_id)
# contact_details deserialises into the client's ExtendedContact model,
# which has only a top-level `id` and `availability_status`. Chatwoot itself
# answers `{"payload": {…the contact…, "contact_inboxes": […]}}`
# (app/views/api/v1/accounts/contacts/show.json.jbuilder), and so does this
# server: against real Chatwoot the model also reads id=None and drops
# contact_inboxes. The model is wrong, not the answer, so the identities are
# read from the answer itself, through the client's own raw-response option.
raw_details = json.loads(contacts.contact_details(account, contact_id, _preload_content=False).data)
identities = raw_details["payload"].get("contact_inboxes") or []
check("contact_inboxes carry the source_id", any(i.get("source_id") == source_id for i in identities), raw_details)
call("contact_update (PUT)", contacts.contact_update, {"name": "Py Thon II", "blocked": False}, account, contact_id)
call("contact_list", contacts.contact_list, account, page=1)
found = call("contact_search", contacts.contact_search, account, q="Py Thon")
check("search finds the contact", any(client.sanitize_for_serialization(c).get("id") == contact_id for c in (found.payload or [])), found)

conversations = cw.ConversationsApi(client)
opened = call(
    "new_conversation (by source_id, with a first message)",
    conversations.new_conversation,
    cw.AccountIdConversationsBody(source_id=source_id, inbox_id=str(inbox),
                                  message=cw.Apiv1accountsaccountIdconversationsMessage(content="Hello from Python")),
    account,
)
display = client.sanitize_for_serialization(opened)["id"]
call("conversation_list", conversations.conversation_list, account, status="open", page=1)
call("conversation_list_meta", conversations.conversation_list_meta, account, status="open")
conversation = call("get_details_of_a_conversation", conversations.get_details_of_a_conversation, account, display)
call("contact_conversations", contacts.contact_conversations, account, contact_id)

messages = cw.MessagesApi(client)
incoming = call(
    "create_a_new_message_in_a_conversation (incoming)",
    messages.create_a_new_message_in_a_conversation,
    cw.ConversationMessageCreate(content="Customer says hi", message_type="incoming"),
    account,
    display,
)
listed = call("list_all_messages", messages.list_all_messages, account, display)
raw = client.sanitize_for_serialization(listed)
texts = [m.get("content") for m in raw.get("payload", [])]
check("the first message and the incoming one are there", "Hello from Python" in texts and "Customer says hi" in texts, texts)
senders = {m["content"]: (m.get("sender") or {}).get("type") for m in raw["payload"]}
check("messages carry their sender", senders.get("Customer says hi") == "contact" and senders.get("Hello from Python") == "user", senders)
note = call(
    "create_a_new_message_in_a_conversation (private note)",
    messages.create_a_new_message_in_a_conversation,
    cw.ConversationMessageCreate(content="note to self", private=True),
    account,
    display,
)
call("delete_a_message", messages.delete_a_message, account, display, client.sanitize_for_serialization(note)["id"])

call(
    "toggle_status_of_a_conversation",
    conversations.toggle_status_of_a_conversation,
    cw.ConversationIdToggleStatusBody(status="resolved"),
    account,
    display,
)
labels = cw.ConversationLabelsApi(client)
call("conversation_add_labels", labels.conversation_add_labels, cw.ConversationIdLabelsBody(labels=["python"]), account, display)
got = call("list_all_labels_of_a_conversation", labels.list_all_labels_of_a_conversation, account, display)
check("labels read back", client.sanitize_for_serialization(got)["payload"] == ["python"], got)

teams = cw.TeamsApi(client)
team = call("create_a_team", teams.create_a_team, cw.TeamCreateUpdatePayload(name=f"py-{uuid.uuid4().hex[:8]}", description="Python"), account)
team_id = client.sanitize_for_serialization(team)["id"]
call("list_all_teams", teams.list_all_teams, account)
call("get_details_of_a_single_team", teams.get_details_of_a_single_team, account, team_id)
call("update_a_team", teams.update_a_team, cw.TeamCreateUpdatePayload(description="Python team"), account, team_id)
call("add_new_agent_to_team", teams.add_new_agent_to_team, cw.TeamIdTeamMembersBody(user_ids=[agent]), account, team_id)
team_members = call("get_team_members", teams.get_team_members, account, team_id)
check("the agent is in the team", [m.id for m in team_members] == [agent], team_members)
call("update_agents_in_team", teams.update_agents_in_team, cw.TeamIdTeamMembersBody2(user_ids=[agent]), account, team_id)

assignments = cw.ConversationAssignmentApi(client)
call("assign_a_conversation (agent)", assignments.assign_a_conversation, cw.ConversationIdAssignmentsBody(assignee_id=agent), account, display)
call("assign_a_conversation (team)", assignments.assign_a_conversation, cw.ConversationIdAssignmentsBody(team_id=team_id), account, display)
# get_details_of_a_conversation deserialises into ConversationShow, whose
# meta has only `sender` and `assignee`. Chatwoot's conversation partial
# (conversations/show.json.jbuilder → api/v1/conversations/partials/
# _conversation) also sends `meta.team`, as this server does; the model drops
# it against real Chatwoot too, so the team is read from the answer itself.
after = json.loads(conversations.get_details_of_a_conversation(account, display, _preload_content=False).data)
check("agent kept, team set", after["meta"]["assignee"]["id"] == agent and after["meta"]["team"]["id"] == team_id, after["meta"])
call("delete_agent_in_team", teams.delete_agent_in_team, cw.TeamIdTeamMembersBody1(user_ids=[agent]), account, team_id)
call("delete_a_team", teams.delete_a_team, account, team_id)

agents = cw.AgentsApi(client)
call("get_account_agents", agents.get_account_agents, account)
new_agent = call(
    "add_new_agent_to_account",
    agents.add_new_agent_to_account,
    cw.AccountIdAgentsBody(name="Py Agent", email=f"agent-{uuid.uuid4().hex[:8]}@example.com", role="agent"),
    account,
)
new_agent_id = client.sanitize_for_serialization(new_agent)["id"]
call("update_agent_in_account", agents.update_agent_in_account, cw.AgentsIdBody(role="administrator"), account, new_agent_id)
call("delete_agent_from_account", agents.delete_agent_from_account, account, new_agent_id)

call("delete_agent_in_inbox", inboxes.delete_agent_in_inbox, cw.AccountIdInboxMembersBody1(inbox_id=str(inbox), user_ids=[agent]), account)
call("contact_delete", contacts.contact_delete, account, contact_id)
print("all python client calls passed", flush=True)
