import { CheckpointError } from '../errors.js';
import { resolveModel, type ResolvedModel } from '../io/checkpoint/model-dir.js';
import type { ModelRecord } from '../train/record.js';
import { SRDTrans } from '../model/srdtrans.js';

export interface LoadedModel {
  model: SRDTrans;
  record: ModelRecord;
  weightsFile: string;
}

/** A model from `--model` (a model directory, a checkpoint in one, or a PyTorch .pth), weights loaded. */
export async function loadModel(modelPath: string, resolvedAlready?: ResolvedModel): Promise<LoadedModel> {
  const resolved = resolvedAlready ?? await resolveModel(modelPath);
  const { record, weightsFile } = resolved;
  const tensors = await resolved.load();
  const model = new SRDTrans(record.model, 0);
  try {
    model.loadStateDict(tensors);
  } catch (err) {
    model.dispose();
    if (err instanceof CheckpointError) {
      const against = resolved.format === 'pth' ? 'the SRDTrans configuration its shapes imply' : "the model's config.json";
      const todo = resolved.format === 'pth' ? '' : '; use it with the config.json of the run that wrote it, or train again';
      throw new CheckpointError(`${weightsFile}: does not fit ${against} (${err.message})${todo}`);
    }
    throw err;
  }
  return { model, record, weightsFile };
}
