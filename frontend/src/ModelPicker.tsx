// The model the next answer comes from (docs/api.md: config.json's `models`, `model` on
// `send` and `regenerate`). Shown only when the chatbot offers more than one.

interface Props {
  /** config.json's models, the first being the default. */
  models: readonly string[];
  /** The model shown: the one picked, or the conversation's own (which may no longer be
   * offered: it is then shown as such, and sending leaves the choice to the server). */
  value: string;
  disabled: boolean;
  onChange: (model: string) => void;
}

export function ModelPicker({ models, value, disabled, onChange }: Props) {
  if (models.length < 2) return null;
  const offered = models.includes(value);
  return (
    <div class="model-picker">
      <label for="model">Model</label>
      <select
        id="model"
        name="model"
        value={value}
        disabled={disabled}
        onChange={(event) => onChange(event.currentTarget.value)}
      >
        {!offered && (
          <option value={value} disabled>
            {value} (no longer offered)
          </option>
        )}
        {models.map((model) => (
          <option key={model} value={model}>
            {model}
          </option>
        ))}
      </select>
    </div>
  );
}
