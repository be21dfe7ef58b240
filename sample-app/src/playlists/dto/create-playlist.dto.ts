import { ArrayMaxSize, IsArray, IsBoolean, IsOptional, IsString, Length } from 'class-validator';

export class CreatePlaylistDto {
  @IsString()
  @Length(1, 100)
  name!: string;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(500)
  @IsString({ each: true })
  trackIds?: string[];

  @IsOptional()
  @IsBoolean()
  isPublic?: boolean;
}
