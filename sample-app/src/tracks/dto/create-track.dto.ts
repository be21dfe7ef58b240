import { IsInt, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';

export class CreateTrackDto {
  @IsString()
  @Length(1, 200)
  title!: string;

  @IsString()
  @Length(1, 200)
  artist!: string;

  @IsInt()
  @Min(1)
  @Max(24 * 3600)
  durationSeconds!: number;

  /** A successful audio upload of the caller (`POST /uploads`). */
  @IsOptional()
  @IsUUID()
  uploadId?: string;
}
