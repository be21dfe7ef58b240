import { IsString, Length } from 'class-validator';

export class StartLiveStreamDto {
  @IsString()
  @Length(1, 140)
  title!: string;
}
