/*
 * http/web/app.js - the web page's behaviour: list, search, paging, live
 * arrival and one message's view, over the Mailpit-compatible JSON API.
 *
 * Owns: the page's state (query, page, open message) kept in the URL's
 * fragment (#q=...&start=...&m=ID, so back/forward and links work), the
 * requests it makes, and turning their JSON into DOM nodes.
 * Does not: hold more than one page of summaries (PAGE_SIZE), whatever the
 * spool's size; put anything a message contains into the page as markup:
 * every message-derived string goes through textContent or an attribute
 * value, never innerHTML, and a message's HTML is shown only by a sandboxed
 * iframe loading /view/ID.html (no scripts, an opaque origin).
 * Invariants: a response that arrives after the user moved on is dropped
 * (one sequence number per kind of request); the page works keyboard-only.
 * Live arrival: server-sent events on /api/events ({"Type":"new","Data":
 * summary}); when the stream cannot be had, polling every POLL_MS.
 */
"use strict";

const PAGE_SIZE = 50; /* summaries per request: a page, never more */
const POLL_MS = 5000; /* the fallback when no event stream can be had */
const STREAM_ERRORS_MAX = 3; /* failed (re)connections before polling instead */
const RAW_SHOW_MAX_BYTES = 1 << 20; /* larger raw messages: download link only */

const $ = (id) => document.getElementById(id);

const state = {
	q: "",
	start: 0,
	loaded: false, /* a list has been shown once */
	open: null, /* ID of the message shown, or null */
	total: 0, /* messages_count of the list or search shown */
	mailboxTotal: 0, /* messages in the spool (the list's "total") */
	mailboxUnread: 0,
	newestId: undefined, /* newest message known (null: none), for polling */
	rows: new Map(), /* ID -> <li> of the page shown */
	listSeq: 0,
	msgSeq: 0,
	message: null, /* the open message's JSON */
	arrivedSince: 0, /* new messages not shown (other page or a search) */
	stream: null,
	streamErrors: 0,
	pollTimer: null,
};

/* ---- helpers --------------------------------------------------------- */

/* An element with a class and text, both optional. */
function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls)
		e.className = cls;
	if (text !== undefined && text !== null)
		e.textContent = String(text);
	return e;
}

function fmtAddr(a) {
	if (!a)
		return "";
	if (a.Name && a.Address)
		return a.Name + " <" + a.Address + ">";
	return a.Address || a.Name || "";
}

function fmtAddrs(list) {
	return Array.isArray(list) ? list.map(fmtAddr).join(", ") : "";
}

function fmtSize(n) {
	if (typeof n !== "number")
		return "";
	if (n < 1024)
		return n + " B";
	if (n < 1024 * 1024)
		return (n / 1024).toFixed(1) + " KiB";
	return (n / 1024 / 1024).toFixed(1) + " MiB";
}

function fmtDate(s) {
	const d = new Date(s);
	return isNaN(d) ? String(s || "") : d.toLocaleString();
}

function fmtNum(n) {
	return Number(n || 0).toLocaleString();
}

function msgPath(id) {
	return "/api/v1/message/" + encodeURIComponent(id);
}

/* JSON from the API, or an Error carrying its {"Error": ...} text. */
async function api(method, path, body) {
	const opts = { method, headers: { Accept: "application/json" } };
	if (body !== undefined) {
		opts.headers["Content-Type"] = "application/json";
		opts.body = JSON.stringify(body);
	}
	const r = await fetch(path, opts);
	const type = r.headers.get("Content-Type") || "";
	const data = type.includes("json") ? await r.json().catch(() => null) : await r.text();
	if (!r.ok) {
		const why = data && data.Error ? data.Error : r.status + " " + r.statusText;
		const err = new Error(why);
		err.status = r.status;
		throw err;
	}
	return data;
}

function showError(err) {
	const box = $("error");
	box.textContent = err ? String(err.message || err) : "";
	box.hidden = !err;
}

/* ---- the URL's fragment is the page's state -------------------------- */

function readHash() {
	const p = new URLSearchParams(location.hash.replace(/^#/, ""));
	return {
		q: (p.get("q") || "").trim(),
		start: Math.max(0, parseInt(p.get("start"), 10) || 0),
		open: p.get("m") || null,
	};
}

function hashFor(q, start, open) {
	const p = new URLSearchParams();
	if (q)
		p.set("q", q);
	if (start)
		p.set("start", String(start));
	if (open)
		p.set("m", open);
	const s = p.toString();
	return s ? "#" + s : "#";
}

function go(q, start, open) {
	const h = hashFor(q, start, open);
	if (h === (location.hash || "#"))
		route();
	else
		location.hash = h;
}

function route() {
	const want = readHash();
	const listChanged = want.q !== state.q || want.start !== state.start || !state.loaded;
	state.q = want.q;
	state.start = want.start;
	$("query").value = state.q;
	$("clear").hidden = !state.q;
	if (listChanged)
		loadList();
	if (want.open !== state.open) {
		if (want.open)
			openMessage(want.open);
		else
			closeMessage();
	}
}

/* ---- the list ---------------------------------------------------------- */

async function loadList(keepFocus) {
	const seq = ++state.listSeq;
	const range = "start=" + state.start + "&limit=" + PAGE_SIZE;
	const path = state.q ? "/api/v1/search?query=" + encodeURIComponent(state.q) + "&" + range
			     : "/api/v1/messages?" + range;
	let data;
	try {
		data = await api("GET", path);
	} catch (err) {
		if (seq === state.listSeq)
			showError(err);
		return;
	}
	if (seq !== state.listSeq)
		return;
	showError(null);
	state.loaded = true;
	const focused = keepFocus ? focusedRowId() : null;
	renderList(data);
	if (focused && state.rows.has(focused))
		state.rows.get(focused).querySelector("a").focus();
}

function focusedRowId() {
	const li = document.activeElement && document.activeElement.closest("#messages > li");
	return li ? li.dataset.id : null;
}

function renderList(data) {
	const list = $("messages");
	const msgs = Array.isArray(data.messages) ? data.messages : [];
	const total = Number(data.messages_count !== undefined ? data.messages_count : data.total) || 0;
	if (!msgs.length && state.start > 0 && total > 0) {
		/* past the end (after deletions): the last page instead */
		go(state.q, Math.floor((total - 1) / PAGE_SIZE) * PAGE_SIZE, state.open);
		return;
	}
	state.total = total;
	state.mailboxTotal = Number(data.total) || 0;
	state.mailboxUnread = Number(data.unread) || 0;
	if (!state.q && state.start === 0)
		state.newestId = msgs.length ? msgs[0].ID : null;
	state.arrivedSince = 0;
	state.rows.clear();
	const frag = document.createDocumentFragment();
	for (const m of msgs)
		frag.appendChild(renderRow(m));
	list.replaceChildren(frag);
	$("empty").hidden = msgs.length > 0;
	$("empty").textContent = state.q ? "No message matches." : "No messages.";
	$("list-title").textContent = state.q ? "Search" : "Inbox";
	updateCounts();
}

function rowHref(id) {
	return hashFor(state.q, state.start, id);
}

function renderRow(m) {
	const li = el("li", m.Read ? "msg" : "msg unread");
	li.dataset.id = m.ID;
	const a = el("a");
	a.href = rowHref(m.ID);
	const from = el("span", "from", fmtAddr(m.From) || "(no sender)");
	const subj = el("span", "subject", m.Subject || "(no subject)");
	const snip = el("span", "snippet", m.Snippet || "");
	const meta = el("span", "meta");
	const when = el("time", null, fmtDate(m.Created));
	when.dateTime = m.Created || "";
	meta.append(when, " \u00b7 " + fmtSize(m.Size));
	if (m.Attachments > 0)
		meta.append(el("span", "clip", " \u00b7 " + m.Attachments + " attached"));
	const flag = el("span", "flag", m.Read ? "" : "unread");
	a.append(flag, from, subj, snip, meta);
	if (m.ID === state.open)
		a.setAttribute("aria-current", "true");
	li.appendChild(a);
	state.rows.set(m.ID, li);
	return li;
}

function updateCounts() {
	const n = state.rows.size;
	const first = n ? state.start + 1 : 0;
	$("range").textContent = n ? fmtNum(first) + "\u2013" + fmtNum(state.start + n) + " of " + fmtNum(state.total) : "";
	$("counts").textContent = fmtNum(state.total) + (state.q ? " found" : " messages") +
				  (state.q ? "" : ", " + fmtNum(state.mailboxUnread) + " unread");
	$("newer").disabled = state.start === 0;
	$("older").disabled = state.start + n >= state.total;
	const arrived = $("arrived");
	arrived.hidden = state.arrivedSince === 0;
	arrived.textContent = state.arrivedSince + " new \u2013 show";
	document.title = (state.mailboxUnread ? "(" + state.mailboxUnread + ") " : "") + "smtpsink";
}

function setRowRead(id, read) {
	const li = state.rows.get(id);
	if (!li || li.classList.contains("unread") === !read)
		return;
	li.classList.toggle("unread", !read);
	li.querySelector(".flag").textContent = read ? "" : "unread";
	state.mailboxUnread = Math.max(0, state.mailboxUnread + (read ? -1 : 1));
	updateCounts();
}

/* Move focus by delta rows within the list (j/k, arrows). */
function moveFocus(delta) {
	const links = Array.from($("messages").querySelectorAll("li > a"));
	if (!links.length)
		return;
	const at = links.indexOf(document.activeElement);
	const next = at < 0 ? 0 : Math.min(links.length - 1, Math.max(0, at + delta));
	links[next].focus();
}

/* ---- live arrival ------------------------------------------------------ */

/* One new message: on the first page of the inbox it goes on top; elsewhere
 * it is counted and offered ("N new - show"). */
function arrived(m) {
	if (!m || !m.ID || state.rows.has(m.ID))
		return;
	state.newestId = m.ID;
	state.mailboxTotal++;
	if (!m.Read)
		state.mailboxUnread++;
	if (state.q || state.start > 0) {
		state.arrivedSince++;
		updateCounts();
		return;
	}
	const list = $("messages");
	list.insertBefore(renderRow(m), list.firstChild);
	while (list.children.length > PAGE_SIZE) {
		state.rows.delete(list.lastChild.dataset.id);
		list.removeChild(list.lastChild);
	}
	state.total++;
	$("empty").hidden = true;
	updateCounts();
}

function onEvent(data, type) {
	let ev;
	try {
		ev = JSON.parse(data);
	} catch (e) {
		return;
	}
	const kind = ev && ev.Type ? ev.Type : type;
	if (kind === "new")
		arrived(ev && ev.Type ? ev.Data : ev);
	else if (kind === "delete" || kind === "truncate" || kind === "prune")
		loadList(true);
}

function setLive(text) {
	$("live").textContent = text;
}

function startStream() {
	if (!window.EventSource) {
		startPolling();
		return;
	}
	setLive("connecting");
	const es = new EventSource("/api/events");
	state.stream = es;
	es.onopen = () => {
		const reconnected = state.streamErrors > 0;
		state.streamErrors = 0;
		stopPolling();
		setLive("live");
		if (reconnected)
			loadList(true); /* what came while the stream was down */
	};
	es.onmessage = (e) => onEvent(e.data, "message");
	es.addEventListener("new", (e) => onEvent(e.data, "new"));
	es.onerror = () => {
		state.streamErrors++;
		if (es.readyState === EventSource.CLOSED || state.streamErrors >= STREAM_ERRORS_MAX) {
			es.close();
			state.stream = null;
			startPolling();
		} else {
			setLive("reconnecting");
		}
	};
}

function startPolling() {
	setLive("polling every " + POLL_MS / 1000 + " s");
	if (!state.pollTimer)
		state.pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
	if (state.pollTimer)
		clearInterval(state.pollTimer);
	state.pollTimer = null;
}

/* Polling: one summary tells whether anything arrived since. */
async function poll() {
	let data;
	try {
		data = await api("GET", "/api/v1/messages?start=0&limit=1");
	} catch (err) {
		setLive("offline (" + err.message + ")");
		return;
	}
	setLive("polling every " + POLL_MS / 1000 + " s");
	const top = data.messages && data.messages.length ? data.messages[0].ID : null;
	const known = state.newestId;
	state.newestId = top;
	if (top === known || known === undefined) /* nothing new, or the first look */
		return;
	if (!state.q && state.start === 0) {
		loadList(true);
		return;
	}
	const total = Number(data.total) || 0;
	state.arrivedSince += Math.max(1, total - state.mailboxTotal);
	state.mailboxTotal = total;
	state.mailboxUnread = Number(data.unread) || 0;
	updateCounts();
}

/* ---- one message -------------------------------------------------------- */

const TABS = ["html", "text", "headers", "raw", "session"];

function selectTab(name, focus) {
	for (const t of TABS) {
		const tab = $("tab-" + t);
		const on = t === name;
		tab.setAttribute("aria-selected", on ? "true" : "false");
		tab.tabIndex = on ? 0 : -1;
		$("panel-" + t).hidden = !on;
	}
	if (focus)
		$("tab-" + name).focus();
	if (name === "raw")
		loadRaw();
}

function visibleTabs() {
	return TABS.filter((t) => !$("tab-" + t).hidden);
}

function closeMessage() {
	state.msgSeq++;
	const was = state.open;
	state.open = null;
	state.message = null;
	$("message-pane").hidden = true;
	document.body.classList.remove("reading");
	$("panel-html").replaceChildren(); /* unloads the iframe */
	const li = was && state.rows.get(was);
	if (li) {
		li.querySelector("a").removeAttribute("aria-current");
		li.querySelector("a").focus();
	}
}

async function openMessage(id) {
	const seq = ++state.msgSeq;
	if (state.open && state.rows.has(state.open))
		state.rows.get(state.open).querySelector("a").removeAttribute("aria-current");
	state.open = id;
	state.message = null;
	const li = state.rows.get(id);
	if (li)
		li.querySelector("a").setAttribute("aria-current", "true");
	let m;
	try {
		m = await api("GET", msgPath(id)); /* marks it read, as Mailpit does */
	} catch (err) {
		if (seq === state.msgSeq)
			showError(err.status === 404 ? new Error("Message " + id + " not found (deleted?)") : err);
		return;
	}
	if (seq !== state.msgSeq)
		return;
	showError(null);
	state.message = m;
	renderMessage(m);
	setRowRead(id, true);
	loadHeaders(id, seq);
	loadSession(m, seq);
}

function addSummaryRow(dl, name, value) {
	if (!value)
		return;
	dl.append(el("dt", null, name), el("dd", null, value));
}

function renderMessage(m) {
	$("message-pane").hidden = false;
	document.body.classList.add("reading");
	$("subject").textContent = m.Subject || "(no subject)";
	const dl = $("summary");
	dl.replaceChildren();
	addSummaryRow(dl, "From", fmtAddr(m.From));
	addSummaryRow(dl, "To", fmtAddrs(m.To));
	addSummaryRow(dl, "Cc", fmtAddrs(m.Cc));
	addSummaryRow(dl, "Bcc", fmtAddrs(m.Bcc));
	addSummaryRow(dl, "Reply-To", fmtAddrs(m.ReplyTo));
	addSummaryRow(dl, "Date", m.Date ? fmtDate(m.Date) : "");
	addSummaryRow(dl, "Size", fmtSize(m.Size));
	addSummaryRow(dl, "Queue ID", m.ID);
	addSummaryRow(dl, "Message-ID", m.MessageID);
	$("toggle-read").textContent = "Mark unread";
	$("download").href = msgPath(m.ID) + "/raw";
	$("download").setAttribute("download", m.ID + ".eml");
	renderAttachments(m);
	renderBody(m);
	$("headers").tBodies[0].replaceChildren();
	$("raw").textContent = "";
	$("raw").dataset.for = "";
	$("tab-session").hidden = true;
	$("panel-session").replaceChildren();
	selectTab(m.HTML ? "html" : "text", false);
	$("subject").focus();
}

function renderBody(m) {
	const html = $("panel-html");
	html.replaceChildren();
	$("tab-html").hidden = !m.HTML;
	if (m.HTML) {
		/* The message's HTML is the server's /view/ID.html (CSP without
		 * scripts), inside an iframe with every sandbox restriction on:
		 * no scripts, no forms, no popups, no top navigation, an opaque
		 * origin with no access to this page, its cookies or its API. */
		const f = document.createElement("iframe");
		f.setAttribute("sandbox", "");
		f.setAttribute("referrerpolicy", "no-referrer");
		f.title = "HTML body of the message";
		f.src = "/view/" + encodeURIComponent(m.ID) + ".html";
		html.appendChild(f);
	}
	$("text").textContent = m.Text || "(no text part)";
}

function renderAttachments(m) {
	const parts = [].concat(m.Attachments || [], m.Inline || []);
	const ul = $("attachments");
	ul.replaceChildren();
	for (const p of parts) {
		const li = el("li");
		const a = el("a", null, p.FileName || p.PartID);
		a.href = msgPath(m.ID) + "/part/" + encodeURIComponent(p.PartID);
		a.setAttribute("download", p.FileName || "part-" + p.PartID);
		li.append(a, el("span", "meta", " " + (p.ContentType || "") + ", " + fmtSize(p.Size)));
		ul.appendChild(li);
	}
	$("attachments-box").hidden = parts.length === 0;
}

async function loadHeaders(id, seq) {
	let h;
	try {
		h = await api("GET", msgPath(id) + "/headers");
	} catch (err) {
		h = { "(error)": [err.message] };
	}
	if (seq !== state.msgSeq)
		return;
	const body = $("headers").tBodies[0];
	const frag = document.createDocumentFragment();
	for (const name of Object.keys(h || {})) {
		const values = Array.isArray(h[name]) ? h[name] : [h[name]];
		for (const v of values) {
			const tr = el("tr");
			tr.append(el("th", null, name), el("td", null, v));
			tr.firstChild.scope = "row";
			frag.appendChild(tr);
		}
	}
	body.replaceChildren(frag);
}

async function loadRaw() {
	const m = state.message;
	const pre = $("raw");
	if (!m || pre.dataset.for === m.ID)
		return;
	pre.dataset.for = m.ID;
	if (m.Size > RAW_SHOW_MAX_BYTES) {
		pre.textContent = "(" + fmtSize(m.Size) + ": too large to show here; use Download .eml)";
		return;
	}
	const seq = state.msgSeq;
	pre.textContent = "loading\u2026";
	let text;
	try {
		const r = await fetch(msgPath(m.ID) + "/raw");
		text = r.ok ? await r.text() : "(" + r.status + " " + r.statusText + ")";
	} catch (err) {
		text = "(" + err.message + ")";
	}
	if (seq === state.msgSeq)
		pre.textContent = text;
}

/* ---- the session timeline --------------------------------------------- */

/* The ID of the SMTP session that delivered m, if the server gives one. */
function sessionIdOf(m) {
	return m.SessionID || m.Session || m.session_id || null;
}

async function loadSession(m, seq) {
	const sid = sessionIdOf(m);
	if (!sid)
		return;
	let s;
	try {
		s = await api("GET", "/api/v1/session/" + encodeURIComponent(sid));
	} catch (err) {
		return; /* no report kept: the tab stays hidden */
	}
	if (seq !== state.msgSeq || !s)
		return;
	renderSession(s);
	$("tab-session").hidden = false;
}

function fmtOffset(us) {
	return "+" + (Number(us) / 1e6).toFixed(3) + " s";
}

/* The session's events in time order, as [offset_us, text]. */
function sessionEvents(s) {
	const ev = [];
	const client = s.client ? (s.client.addr || "unix socket") + (s.client.port ? ":" + s.client.port : "") : "";
	ev.push([0, "connect" + (client ? " from " + client : "")]);
	if (s.helo_verb)
		ev.push([0, s.helo_verb + " " + (s.helo || "(no name)")]);
	for (const a of Array.isArray(s.aborts) ? s.aborts : [])
		ev.push([a.at_us || 0, "transaction aborted: " + (a.rcpts || 0) + " RCPT" +
					       (a.data ? ", after DATA" : "") + (a.reason ? ", " + a.reason : "")]);
	for (const g of Array.isArray(s.gaps) ? s.gaps : [])
		ev.push([g.at_us || 0, "idle " + (Number(g.len_us || 0) / 1e6).toFixed(1) + " s" +
					       (g.after ? " after " + g.after : "") + (g.in_txn ? " (in a transaction)" : "")]);
	if (s.duration_us !== undefined)
		ev.push([s.duration_us, "end: " + (s.end_reason || "?") + (s.closed_by ? ", closed by " + s.closed_by : "")]);
	return ev.sort((x, y) => x[0] - y[0]);
}

function renderSession(s) {
	const panel = $("panel-session");
	const dl = el("dl", "summary");
	addSummaryRow(dl, "Session", s.id);
	addSummaryRow(dl, "Connected", s.connect ? fmtDate(s.connect) : "");
	addSummaryRow(dl, "Transactions", s.completed !== undefined ?
		s.completed + " completed, " + (s.refused || 0) + " refused, " + (s.aborted || 0) + " aborted" : "");
	addSummaryRow(dl, "Recipients", s.rcpts_accepted !== undefined ?
		s.rcpts_accepted + " accepted, " + (s.rcpts_refused || 0) + " refused" : "");
	addSummaryRow(dl, "Commands", s.verbs ? Object.keys(s.verbs).map((k) => k + " " + s.verbs[k]).join(", ") : "");
	addSummaryRow(dl, "Quirks", Array.isArray(s.quirks) ? s.quirks.join(", ") : "");
	addSummaryRow(dl, "Bytes", s.bytes_in !== undefined ? s.bytes_in + " in, " + (s.bytes_out || 0) + " out" : "");
	const ol = el("ol", "timeline");
	for (const [at, text] of sessionEvents(s)) {
		const li = el("li");
		li.append(el("span", "at", fmtOffset(at)), " " + text);
		ol.appendChild(li);
	}
	const msgs = el("ul");
	for (const q of Array.isArray(s.messages) ? s.messages : []) {
		const a = el("a", null, q);
		a.href = hashFor(state.q, state.start, q);
		msgs.appendChild(el("li")).appendChild(a);
	}
	const raw = el("details");
	raw.append(el("summary", null, "JSON"), el("pre", null, JSON.stringify(s, null, 2)));
	panel.replaceChildren(dl, el("h3", null, "Timeline"), ol, el("h3", null, "Messages of this session"), msgs, raw);
}

/* ---- actions ------------------------------------------------------------ */

async function toggleRead() {
	const m = state.message;
	if (!m)
		return;
	const read = $("toggle-read").textContent !== "Mark unread";
	try {
		await api("PUT", "/api/v1/messages", { IDs: [m.ID], Read: read });
	} catch (err) {
		showError(err);
		return;
	}
	setRowRead(m.ID, read);
	$("toggle-read").textContent = read ? "Mark unread" : "Mark read";
}

async function deleteOpen() {
	const m = state.message;
	if (!m)
		return;
	const li = state.rows.get(m.ID);
	const next = li && (li.nextElementSibling || li.previousElementSibling);
	try {
		await api("DELETE", "/api/v1/messages", { IDs: [m.ID] });
	} catch (err) {
		showError(err);
		return;
	}
	closeMessage();
	await loadList(false);
	const nextId = next && state.rows.has(next.dataset.id) ? next.dataset.id : null;
	go(state.q, state.start, nextId);
	if (!nextId)
		moveFocus(0);
}

function onKey(e) {
	if (e.ctrlKey || e.metaKey || e.altKey)
		return;
	const t = e.target;
	if (t.closest && t.closest("input, textarea, select")) {
		if (e.key === "Escape")
			t.blur();
		return;
	}
	const inList = t.closest && t.closest("#messages");
	const onTab = t.getAttribute && t.getAttribute("role") === "tab";
	let handled = true;
	if (e.key === "/") {
		$("query").focus();
		$("query").select();
	} else if (e.key === "j" || (inList && e.key === "ArrowDown")) {
		moveFocus(1);
	} else if (e.key === "k" || (inList && e.key === "ArrowUp")) {
		moveFocus(-1);
	} else if (onTab && (e.key === "ArrowRight" || e.key === "ArrowLeft")) {
		const tabs = visibleTabs();
		const at = tabs.indexOf(t.id.replace("tab-", ""));
		selectTab(tabs[(at + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length], true);
	} else if (e.key === "Escape" && state.open) {
		go(state.q, state.start, null);
	} else if (e.key === "Delete" && state.message) {
		deleteOpen();
	} else if (e.key === "u" && state.message) {
		toggleRead();
	} else if (e.key === "[" && !$("newer").disabled) {
		go(state.q, Math.max(0, state.start - PAGE_SIZE), null);
	} else if (e.key === "]" && !$("older").disabled) {
		go(state.q, state.start + PAGE_SIZE, null);
	} else {
		handled = false;
	}
	if (handled)
		e.preventDefault();
}

function init() {
	$("app").hidden = false;
	$("search").addEventListener("submit", (e) => {
		e.preventDefault();
		go($("query").value.trim(), 0, null);
	});
	$("clear").addEventListener("click", () => go("", 0, null));
	$("home").addEventListener("click", (e) => {
		e.preventDefault();
		go("", 0, null);
	});
	$("newer").addEventListener("click", () => go(state.q, Math.max(0, state.start - PAGE_SIZE), null));
	$("older").addEventListener("click", () => go(state.q, state.start + PAGE_SIZE, null));
	$("arrived").addEventListener("click", () => go("", 0, null));
	$("close").addEventListener("click", () => go(state.q, state.start, null));
	$("toggle-read").addEventListener("click", toggleRead);
	$("delete").addEventListener("click", deleteOpen);
	for (const t of TABS)
		$("tab-" + t).addEventListener("click", () => selectTab(t, false));
	document.addEventListener("keydown", onKey);
	window.addEventListener("hashchange", route);
	route();
	startStream();
}

init();
