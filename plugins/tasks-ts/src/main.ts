// tasks-ts: the shipped TypeScript example plugin. Tasks belong to the
// organization of the verified caller (never to an organization named in the
// arguments), anyone in it may add, list and complete them, and only its
// admins may delete them.
import { createPlugin, error, NotFoundError, object, text, z, type ToolRequest } from "@mcphost/plugin-sdk";
import type { Task } from "./store.js";
import { MAX_TASKS_PER_ORG, TaskNotFound, TaskStore } from "./store.js";

const store = new TaskStore(process.env.MCPHOST_PLUGIN_DATA_DIR);
const plugin = createPlugin({ name: "tasks-ts", version: "0.1.0" });

// org is the caller's tenant, or undefined when the token names none.
function org(req: ToolRequest): string | undefined {
  return req.caller.organizationId || undefined;
}
const noOrg = () => error("tasks are kept per organization, and your sign-in has none: sign in to an organization");

const title = z.string().trim().min(1).max(200).describe("What needs doing");

plugin.tool(
  {
    name: "add-task",
    description: "Adds a task to your organization's list.",
    schema: z.object({
      title,
      notes: z.string().max(2000).default("").describe("Details, optional"),
      due: z.iso.date().optional().describe("Due date, YYYY-MM-DD"),
    }),
  },
  async ({ title, notes, due }, req) => {
    const o = org(req);
    if (!o) return noOrg();
    const task = store.add(o, { title, notes, due: due ?? "", createdBy: req.caller.email || req.caller.userId });
    req.log("info", { event: "task added", id: task.id });
    return object({ task });
  },
);

plugin.tool(
  {
    name: "import-tasks",
    description: "Adds several tasks at once, reporting progress as it goes.",
    schema: z.object({ titles: z.array(title).min(1).max(100) }),
  },
  async ({ titles }, req) => {
    const o = org(req);
    if (!o) return noOrg();
    const added = [];
    for (const [i, t] of titles.entries()) {
      if (req.signal.aborted) return error(`cancelled after ${i} of ${titles.length} tasks`);
      added.push(store.add(o, { title: t, notes: "", due: "", createdBy: req.caller.email || req.caller.userId }));
      req.progress(i + 1, titles.length, `added ${JSON.stringify(t)}`);
    }
    return object({ added });
  },
);

plugin.tool(
  {
    name: "list-tasks",
    description: `Lists your organization's tasks (at most ${MAX_TASKS_PER_ORG}).`,
    schema: z.object({ status: z.enum(["open", "done", "all"]).default("open") }),
    annotations: { readOnlyHint: true },
  },
  async ({ status }, req) => {
    const o = org(req);
    if (!o) return noOrg();
    const tasks = store.list(o).filter((t) => status === "all" || t.done === (status === "done"));
    return object({ organization: o, status, tasks });
  },
);

plugin.tool(
  {
    name: "complete-task",
    description: "Marks a task done.",
    schema: z.object({ id: z.string().min(1).describe("The task's id, from list-tasks") }),
    annotations: { idempotentHint: true },
  },
  // An unknown id throws; the SDK turns it into a tool error naming the tool.
  async ({ id }, req) => {
    const o = org(req);
    if (!o) return noOrg();
    const task = store.complete(o, id, req.caller.email || req.caller.userId);
    plugin.resourceUpdated(`tasks://${task.id}`);
    return object({ task });
  },
);

plugin.tool(
  {
    name: "delete-task",
    description: "Deletes a task, after the user confirms where the client can ask. Only your organization's admins may.",
    schema: z.object({ id: z.string().min(1) }),
    annotations: { destructiveHint: true },
  },
  async ({ id }, req) => {
    const o = org(req);
    if (!o) return noOrg();
    if (!req.caller.hasRole("admin")) return error("delete-task needs the admin role in your organization");
    const task = store.list(o).find((t) => t.id === id);
    if (!task) throw new TaskNotFound(id);
    // A client that can show the user a form is asked to confirm first.
    if (req.clientCapabilities.elicitation) {
      const answer = await req.elicit({
        message: `Delete the task ${JSON.stringify(task.title)}?`,
        requestedSchema: { type: "object", properties: { confirm: { type: "boolean", title: "Delete it" } }, required: ["confirm"] },
      });
      const content = answer.content as { confirm?: unknown } | undefined;
      if (answer.action !== "accept" || content?.confirm !== true) return text(`kept the task ${JSON.stringify(task.title)}`);
    }
    const deleted = store.remove(o, id);
    plugin.resourceUpdated(`tasks://${deleted.id}`);
    return object({ deleted });
  },
);

// One task as Markdown, for clients that attach resources to a conversation.
// Another organization's task id reads as not found, like a missing one.
plugin.resourceTemplate(
  {
    uriTemplate: "tasks://{id}",
    name: "task",
    description: "One of your organization's tasks, as Markdown.",
    mimeType: "text/markdown",
    // Ids of the caller's organization's tasks, open ones first.
    complete: {
      id: (prefix, { caller }) =>
        caller.organizationId
          ? store.list(caller.organizationId).filter((t) => t.id.startsWith(prefix)).sort((a, b) => Number(a.done) - Number(b.done)).map((t) => t.id)
          : [],
    },
  },
  ({ params, caller }) => {
    const task = caller.organizationId ? store.list(caller.organizationId).find((t) => t.id === params.id) : undefined;
    if (!task) throw new NotFoundError(`no task ${params.id}`);
    return markdownOf(task);
  },
);

plugin.prompt(
  {
    name: "plan-my-day",
    description: "Asks the model to plan a day around your organization's open tasks.",
    args: z.object({ focus: z.string().optional().describe("What matters most today, optional") }),
  },
  ({ focus }, { caller }) => {
    const open = caller.organizationId ? store.list(caller.organizationId).filter((t) => !t.done) : [];
    const list = open.length > 0 ? open.map((t) => `- ${t.title}${t.due ? ` (due ${t.due})` : ""} [${t.id}]`).join("\n") : "(no open tasks)";
    return `Plan my day around these open tasks${focus ? `, focusing on ${focus}` : ""}:\n${list}`;
  },
);

function markdownOf(t: Task): string {
  const lines = [`# ${t.title}`, "", `- status: ${t.done ? `done (${t.completedBy}, ${t.completedAt})` : "open"}`, `- created by ${t.createdBy} at ${t.createdAt}`];
  if (t.due) lines.push(`- due ${t.due}`);
  if (t.notes) lines.push("", t.notes);
  return lines.join("\n") + "\n";
}

plugin.serve();
