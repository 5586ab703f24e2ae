// tests/interop/mailpit_client/check.cjs - the npm client `mailpit-api`
// (what cypress-mailpit and playwright-mailpit users call) against a
// running smtpsink, unchanged: if this passes, those clients work.
//
// Owns: one scenario over three messages that test_http_api.py has already
// sent (it passes their IDs and facts as JSON in argv[2]); every client call
// the issue names, checked with node:assert.  Prints "ok STEP" per step and
// exits 1 at the first failure.  Does not send mail or start servers.
//
// Environment: MAILPIT_API_MODULES (the node_modules directory holding
// mailpit-api), MAILPIT_URL, MAILPIT_USER and MAILPIT_PASSWORD (optional).
"use strict";
const assert = require("node:assert/strict");
const path = require("node:path");

const { MailpitClient } = require(path.join(process.env.MAILPIT_API_MODULES, "mailpit-api"));
const facts = JSON.parse(process.argv[2]);
const auth = process.env.MAILPIT_USER ? { username: process.env.MAILPIT_USER, password: process.env.MAILPIT_PASSWORD } : undefined;
const mp = new MailpitClient(process.env.MAILPIT_URL, auth ? { auth } : undefined);
const { rich, two, three } = facts.ids;

async function step(name, fn) {
	try {
		await fn();
		console.log("ok " + name);
	} catch (e) {
		console.log("FAILED " + name + ": " + (e && e.stack ? e.stack : e));
		process.exit(1);
	}
}

async function main() {
	await step("getInfo", async () => {
		const info = await mp.getInfo();
		assert.equal(info.Messages, 3);
		assert.equal(typeof info.Version, "string");
	});
	await step("listMessages", async () => {
		const page = await mp.listMessages(0, 2);
		assert.equal(page.messages_count, 3);
		assert.equal(page.total, 3);
		assert.deepEqual(page.messages.map((m) => m.ID), [three, two]);
		const rest = await mp.listMessages(2, 2);
		assert.deepEqual(rest.messages.map((m) => m.ID), [rich]);
		assert.equal(rest.start, 2);
	});
	let partID;
	await step("getMessageSummary", async () => {
		const m = await mp.getMessageSummary(rich);
		assert.equal(m.ID, rich);
		assert.equal(m.Subject, "Client rich");
		assert.equal(m.From.Address, "alice@example.com");
		assert.ok(m.Text.includes("rich body text"));
		assert.equal(m.Attachments.length, 1);
		assert.equal(m.Attachments[0].FileName, "report.pdf");
		partID = m.Attachments[0].PartID;
		const latest = await mp.getMessageSummary();
		assert.equal(latest.ID, three);
	});
	await step("getMessageHeaders", async () => {
		const h = await mp.getMessageHeaders(rich);
		const subject = Object.entries(h).find(([k]) => k.toLowerCase() === "subject");
		assert.deepEqual(subject[1], ["Client rich"]);
	});
	await step("getMessageSource", async () => {
		const raw = await mp.getMessageSource(rich);
		assert.equal(raw.length, facts.raw_length);
		assert.ok(raw.includes("Subject: Client rich"));
	});
	await step("getMessageAttachment", async () => {
		const blob = await mp.getMessageAttachment(rich, partID);
		const bytes = Buffer.from(await blob.arrayBuffer());
		assert.equal(bytes.length, facts.pdf_length);
		assert.equal(bytes.subarray(0, 5).toString(), "%PDF-");
	});
	await step("searchMessages", async () => {
		const r = await mp.searchMessages({ query: 'subject:"Client two"' });
		assert.equal(r.messages_count, 1);
		assert.equal(r.messages[0].ID, two);
		const none = await mp.searchMessages({ query: "subject:nothing-like-this" });
		assert.equal(none.messages_count, 0);
		assert.deepEqual(none.messages, []);
	});
	await step("setReadStatus", async () => {
		await mp.setReadStatus({ IDs: [two], Read: true });
		const read = await mp.searchMessages({ query: "is:read" });
		// rich was read by getMessageSummary, three by getMessageSummary("latest")
		assert.deepEqual(read.messages.map((m) => m.ID).sort(), [rich, two, three].sort());
		await mp.setReadStatus({ IDs: [two], Read: false });
		const unread = await mp.searchMessages({ query: "is:unread" });
		assert.deepEqual(unread.messages.map((m) => m.ID), [two]);
	});
	await step("renderMessageHTML and renderMessageText", async () => {
		const html = await mp.renderMessageHTML(rich);
		assert.ok(html.includes("<b>rich</b>"));
		const text = await mp.renderMessageText(rich);
		assert.ok(text.includes("rich body text"));
	});
	await step("waitForMessage", async () => {
		const m = await mp.waitForMessage({ query: 'subject:"Client three"' }, { timeout: 5000, interval: 100 });
		assert.equal(m.ID, three);
	});
	await step("unknown ID is an error", async () => {
		await assert.rejects(mp.getMessageSummary("NOSUCHID"), /404/);
	});
	await step("getChaosTriggers and setChaosTriggers", async () => {
		const t = await mp.getChaosTriggers();
		assert.ok("Sender" in t && "Recipient" in t && "Authentication" in t);
		const set = await mp.setChaosTriggers({ Recipient: { ErrorCode: 452, Probability: 0 } });
		assert.equal(set.Recipient.ErrorCode, 452);
	});
	await step("deleteMessagesBySearch", async () => {
		await mp.deleteMessagesBySearch({ query: 'subject:"Client two"' });
		const page = await mp.listMessages();
		assert.deepEqual(page.messages.map((m) => m.ID), [three, rich]);
	});
	await step("deleteMessages by IDs", async () => {
		await mp.deleteMessages({ IDs: [rich] });
		const page = await mp.listMessages();
		assert.deepEqual(page.messages.map((m) => m.ID), [three]);
	});
	await step("deleteMessages all", async () => {
		await mp.deleteMessages();
		const page = await mp.listMessages();
		assert.equal(page.total, 0);
		assert.deepEqual(page.messages, []);
	});
	console.log("all steps passed");
}

main();
