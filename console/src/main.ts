/**
 * The web console: asks for an API key once (kept for this tab), lists the models, takes images by
 * file picker or drag and drop (one makes a job, several a batch) and follows each job.
 */
import { InversionMethod } from '../../shared/contracts/model-manifest.ts';
import { ApiClient, ApiError, type ConsoleModel } from './api-client.ts';
import { byId, el } from './dom.ts';
import { JobCard } from './job-card.ts';
import { keyStore } from './key-store.ts';

const OUTPUTS = ['latent', 'trajectory', 'reconstruction', 'metrics'] as const;
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
type ImageType = (typeof IMAGE_TYPES)[number];

const keyForm = byId('key-form', HTMLFormElement);
const keyInput = byId('api-key', HTMLInputElement);
const keyStatus = byId('key-status', HTMLParagraphElement);
const forgetKey = byId('forget-key', HTMLButtonElement);
const jobSection = byId('submit-section', HTMLElement);
const jobForm = byId('job-form', HTMLFormElement);
const modelSelect = byId('model', HTMLSelectElement);
const methodSelect = byId('method', HTMLSelectElement);
const stepsInput = byId('steps', HTMLInputElement);
const etaInput = byId('eta', HTMLInputElement);
const maxItersInput = byId('max-iters', HTMLInputElement);
const promptInput = byId('prompt', HTMLInputElement);
const filesInput = byId('files', HTMLInputElement);
const dropZone = byId('drop-zone', HTMLElement);
const selection = byId('selection', HTMLParagraphElement);
const submitButton = byId('submit', HTMLButtonElement);
const formError = byId('form-error', HTMLDivElement);
const jobsSection = byId('jobs-section', HTMLElement);
const jobList = byId('jobs', HTMLOListElement);

let api: ApiClient | undefined;
let models: ConsoleModel[] = [];

for (const method of InversionMethod.options) methodSelect.append(el('option', { value: method }, method));

function showFormError(text: string | undefined): void {
  formError.textContent = text ?? '';
  formError.hidden = !text;
}

async function connect(key: string): Promise<void> {
  keyStatus.textContent = 'Checking the key…';
  const client = new ApiClient(key);
  try {
    models = await client.models();
  } catch (error) {
    keyStore.clear();
    keyForm.hidden = false;
    jobSection.hidden = true;
    forgetKey.hidden = true;
    keyStatus.textContent = error instanceof ApiError ? `The API refused the key: ${error.message}` : `Could not reach the API: ${String(error)}`;
    keyInput.focus();
    return;
  }
  api = client;
  keyStore.set(key);
  keyForm.hidden = true;
  forgetKey.hidden = false;
  keyStatus.textContent = `Connected: ${models.length} model(s). The key is kept in this tab only.`;
  modelSelect.replaceChildren(...models.map((m) => el('option', { value: m.id }, `${m.displayName} (${m.id})`)));
  useDefaults();
  jobSection.hidden = false;
}

/** Fills the parameters with the chosen model's defaults. */
function useDefaults(): void {
  const model = models.find((m) => m.id === modelSelect.value);
  if (!model) return;
  const d = model.inversionDefaults;
  methodSelect.value = d.method;
  stepsInput.value = String(d.steps);
  etaInput.value = String(d.eta);
  maxItersInput.value = String(d.maxIters);
}

function chosenFiles(): File[] {
  return [...(filesInput.files ?? [])];
}

function describeSelection(): void {
  const files = chosenFiles();
  selection.textContent = files.length === 0 ? 'No image chosen.' : files.length === 1 ? `1 image: ${files[0]!.name}` : `${files.length} images, inverted as one batch: ${files.map((f) => f.name).join(', ')}`;
}

async function submit(): Promise<void> {
  showFormError(undefined);
  const files = chosenFiles();
  if (!api) return showFormError('Enter an API key first.');
  if (files.length === 0) return showFormError('Choose or drop at least one image (PNG, JPEG or WebP).');
  const unsupported = files.filter((f) => !IMAGE_TYPES.includes(f.type as ImageType));
  if (unsupported.length > 0) return showFormError(`Not a PNG, JPEG or WebP image: ${unsupported.map((f) => f.name).join(', ')}`);
  const params = {
    method: InversionMethod.parse(methodSelect.value),
    steps: stepsInput.valueAsNumber,
    eta: etaInput.valueAsNumber,
    maxIters: maxItersInput.valueAsNumber,
    prompt: promptInput.value,
    outputs: [...OUTPUTS],
  };
  submitButton.disabled = true;
  try {
    // Several images share one batch (one request, one set of parameters); the API validates both.
    const jobs = files.length === 1 ? [await api.createJob({ model: modelSelect.value, contentType: files[0]!.type as ImageType, ...params })] : (await api.createBatch({ model: modelSelect.value, params, count: files.length })).jobs;
    jobsSection.hidden = false;
    const cards = jobs.map((job, i) => new JobCard(api!, job, files[i]!));
    jobList.prepend(...cards.map((card) => card.element));
    filesInput.value = '';
    describeSelection();
    await Promise.all(cards.map((card) => card.start()));
  } catch (error) {
    showFormError(error instanceof ApiError ? error.message : `Could not create the job: ${String(error)}`);
  } finally {
    submitButton.disabled = false;
  }
}

keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  keyInput.value = '';
  if (key) void connect(key);
});
forgetKey.addEventListener('click', () => {
  keyStore.clear();
  api = undefined;
  jobSection.hidden = true;
  forgetKey.hidden = true;
  keyForm.hidden = false;
  keyStatus.textContent = 'Key forgotten.';
  keyInput.focus();
});
modelSelect.addEventListener('change', useDefaults);
filesInput.addEventListener('change', describeSelection);
jobForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void submit();
});

// Dropped files go into the file input, so picking and dropping take the same path.
dropZone.addEventListener('dragover', (event) => {
  event.preventDefault();
  dropZone.classList.add('dragging');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropZone.classList.remove('dragging');
  if (event.dataTransfer?.files.length) {
    filesInput.files = event.dataTransfer.files;
    describeSelection();
  }
});

describeSelection();
const saved = keyStore.get();
if (saved) void connect(saved);
