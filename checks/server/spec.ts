/** What a phase's result is: its id and title, as checks/index.ts lists them and reports show them. */
export interface ResultSpec {
  readonly id: string;
  readonly title: string;
}
