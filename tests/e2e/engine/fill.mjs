// Fills an XForm headlessly with the ODK Web Forms engine, as a phone would.
//
// Reads one JSON request on stdin and writes one JSON response on stdout:
//   request:  {form_xml, attachments: {name: text}, preload: {deviceID, username},
//              fillings: [{steps: [{set, value} | {add_repeat}]}]}
//   response: {error, timings: {startup_ms, load_ms, fill_ms}, fillings: [
//              {xml, instance_id, violations: [{ref, kind, message}], attachments, error}]}
// The form is loaded once and every filling is a fresh instance of it, so a batch pays Node
// start-up and form parsing only once.
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';

const DOM_GLOBALS = [
	'window',
	'document',
	'DOMParser',
	'XMLSerializer',
	'Node',
	'Element',
	'Document',
	'XMLDocument',
	'NodeFilter',
	'XPathResult',
];

// The engine expects a browser: it parses and evaluates XPath against DOM objects.
const installDom = () => {
	const { window } = new JSDOM('');
	for (const name of DOM_GLOBALS) {
		globalThis[name] = name === 'window' ? window : window[name];
	}
};

installDom();
// The engine's bundled WASM XPath parser reads __dirname, which ESM lacks; it must exist
// before the engine module is evaluated, hence the dynamic import.
globalThis.__dirname = dirname(fileURLToPath(import.meta.url));
const { loadForm } = await import('@getodk/xforms-engine');

class StepError extends Error {}

const readStdin = async () => {
	const chunks = [];
	for await (const chunk of process.stdin) {
		chunks.push(chunk);
	}
	return Buffer.concat(chunks).toString('utf8');
};

// Forms name attachments as jr://file/x.csv or jr://file-csv/x.csv; both are served by
// basename, as Collect does with the manifest's files.
const attachmentFetcher = (attachments) => async (url) => {
	const name = decodeURIComponent(url.pathname.split('/').pop() ?? '');
	if (!Object.hasOwn(attachments, name)) {
		return new Response(`attachment not provided: ${name}`, { status: 404 });
	}
	return new Response(attachments[name], { status: 200 });
};

const SEGMENT = /^([^[\]]+)(?:\[(\d+)\])?$/;

const parseSegment = (segment, path) => {
	const match = SEGMENT.exec(segment);
	if (match == null) {
		throw new StepError(`bad path segment "${segment}" in ${path}`);
	}
	return { name: match[1], index: match[2] == null ? null : Number(match[2]) };
};

const nodeName = (node) => node.definition.nodeset.split('/').pop();

const isRepeatRange = (node) => node.nodeType.startsWith('repeat-range');

// Walks the live tree, not a cached map, so repeat instances added by earlier steps resolve.
const findNode = (root, path) => {
	const segments = path.split('/').filter((segment) => segment !== '');
	const rootName = nodeName(root);
	if (segments.length === 0 || parseSegment(segments[0], path).name !== rootName) {
		throw new StepError(`path ${path} does not start with /${rootName}`);
	}
	let node = root;
	for (const segment of segments.slice(1)) {
		const { name, index } = parseSegment(segment, path);
		const child = (node.currentState.children ?? []).find((each) => nodeName(each) === name);
		if (child == null) {
			throw new StepError(`no node "${name}" in ${path}`);
		}
		node = child;
		if (isRepeatRange(child) && index != null) {
			const instances = child.currentState.children;
			if (index < 1 || index > instances.length) {
				throw new StepError(`${path}: repeat has ${instances.length} instance(s), not ${index}`);
			}
			node = instances[index - 1];
		} else if (index != null) {
			throw new StepError(`${path}: "${name}" is not a repeat, it takes no index`);
		}
	}
	return node;
};

const splitChoices = (value) => String(value ?? '').split(/\s+/).filter((name) => name !== '');

// A phone offers only the choices left after choice_filter, so anything else is refused.
const selectChoices = (node, value, path) => {
	const names = splitChoices(value);
	const offered = new Set(node.currentState.valueOptions.map((item) => item.value));
	const unknown = names.filter((name) => !offered.has(name));
	if (unknown.length > 0) {
		throw new StepError(`${path}: choice(s) ${unknown.join(', ')} not offered`);
	}
	if (node.selectType === 'select1' && names.length > 1) {
		throw new StepError(`${path}: select_one takes one choice, got ${names.length}`);
	}
	node.selectValues(names);
};

// The engine silently blanks a value it cannot parse (e.g. "abc" for an integer, a
// latitude of 200); a phone's keyboard or GPS could not produce one, so refuse it instead.
const setTypedValue = (node, value, path) => {
	const text = value == null ? '' : String(value);
	node.setValue(text);
	if (text.trim() !== '' && node.currentState.instanceValue === '') {
		throw new StepError(`${path}: "${text}" is not a valid ${node.valueType}`);
	}
};

const setValue = (root, path, value) => {
	const node = findNode(root, path);
	const state = node.currentState;
	if (!state.relevant) {
		throw new StepError(`${path} is not relevant; a phone would not show it`);
	}
	if (state.readonly) {
		throw new StepError(`${path} is read-only`);
	}
	switch (node.nodeType) {
		case 'input':
		case 'range':
			setTypedValue(node, value, path);
			return;
		case 'select':
			selectChoices(node, value, path);
			return;
		case 'rank':
			node.setValues(splitChoices(value));
			return;
		case 'trigger':
			node.setValue(value != null && value !== '' && value !== false);
			return;
		case 'upload':
			// The submission only names the file; tests need no real bytes.
			node.setValue(value ? new File([], String(value)) : null);
			return;
		default:
			throw new StepError(`${path} is a ${node.nodeType}, which a phone cannot answer`);
	}
};

const addRepeat = (root, path) => {
	const node = findNode(root, path);
	if (node.nodeType !== 'repeat-range:uncontrolled') {
		throw new StepError(`${path} is a ${node.nodeType}, not a repeat the user can add to`);
	}
	if (!node.currentState.relevant) {
		throw new StepError(`${path} is not relevant; a phone would not show it`);
	}
	node.addInstances();
};

const applyStep = (root, step) => {
	if (typeof step.set === 'string') {
		setValue(root, step.set, step.value);
	} else if (typeof step.add_repeat === 'string') {
		addRepeat(root, step.add_repeat);
	} else {
		throw new StepError(`unknown step ${JSON.stringify(step)}`);
	}
};

const findInstanceId = (root) => {
	const meta = root.currentState.children.find((child) => nodeName(child) === 'meta');
	const id = meta?.currentState.children?.find((child) => nodeName(child) === 'instanceID');
	return id?.currentState.value || null;
};

const violationList = (root) =>
	root.validationState.violations.map(({ reference, violation }) => ({
		ref: reference,
		kind: violation.condition,
		message: violation.message?.asString ?? null,
	}));

const fillOne = async (form, preload, steps) => {
	const { root } = form.createInstance({ preloadProperties: preload });
	const result = {
		xml: null,
		instance_id: findInstanceId(root),
		violations: [],
		attachments: [],
		error: null,
	};
	try {
		for (const step of steps) {
			applyStep(root, step);
		}
	} catch (error) {
		result.error = error instanceof StepError ? error.message : String(error?.stack ?? error);
		return result;
	}
	result.violations = violationList(root);
	const payload = await root.prepareInstancePayload();
	if (payload.status === 'ready') {
		const [data] = payload.data;
		result.xml = await data.get('xml_submission_file').text();
		result.attachments = [...data.keys()].filter((key) => key !== 'xml_submission_file');
	}
	return result;
};

const run = async (request, startedAt) => {
	const timings = { startup_ms: startedAt, load_ms: null, fill_ms: null };
	const loadStart = performance.now();
	const form = await loadForm(request.form_xml, {
		fetchFormAttachment: attachmentFetcher(request.attachments ?? {}),
	});
	timings.load_ms = performance.now() - loadStart;
	if (form.status === 'failure') {
		return { error: `form failed to load: ${form.error?.message ?? form.error}`, timings, fillings: [] };
	}
	const fillStart = performance.now();
	const fillings = [];
	for (const filling of request.fillings ?? []) {
		fillings.push(await fillOne(form, request.preload ?? {}, filling.steps ?? []));
	}
	timings.fill_ms = performance.now() - fillStart;
	return { error: null, timings, fillings };
};

const main = async () => {
	// performance.now() counts from process start, so this is Node start-up plus loading
	// jsdom and the engine: the fixed cost every process pays.
	const startedAt = performance.now();
	let response;
	try {
		response = await run(JSON.parse(await readStdin()), startedAt);
	} catch (error) {
		response = { error: String(error?.stack ?? error), timings: null, fillings: [] };
	}
	process.stdout.write(JSON.stringify(response));
};

await main();
